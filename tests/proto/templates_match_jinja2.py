#!/usr/bin/python3
"""Weft's chat templates against the models' own: each family's Jinja
template (../shared/testdata/templates, as llama.cpp collected them) is
rendered with Debian's python3-jinja2 the way Hugging Face transformers
renders it, and Weft's rendering of the same conversation must be equal
byte for byte. BOS is the tokenizer's job in Weft, so the templates get an
empty bos_token. Conversations a template refuses (raise_exception) are
skipped for that template, and counted. Also: Weft detects each file as its
family.

Usage: templates_match_jinja2.py RENDER_CHAT TEMPLATES_DIR
       templates_match_jinja2.py --render TEMPLATE.jinja BOS EOS < messages.json
Exit 0 when all agree, 1 when not, 77 when jinja2 or the templates are
missing. --render prints one template's rendering (for the node tests).
"""
import json
import os
import subprocess
import sys

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    print("SKIP: python3-jinja2 is not installed")
    sys.exit(77)

# (file, Weft's name, eos_token)
FAMILIES = [
    ("meta-llama-Llama-3.1-8B-Instruct.jinja", "llama3.1", "<|eot_id|>"),
    ("meta-llama-Llama-3.2-3B-Instruct.jinja", "llama3.1", "<|eot_id|>"),
    ("meta-llama-Llama-3.3-70B-Instruct.jinja", "llama3.1", "<|eot_id|>"),
    ("Qwen-Qwen2.5-7B-Instruct.jinja", "qwen2.5", "<|im_end|>"),
    ("microsoft-Phi-3.5-mini-instruct.jinja", "phi3", "<|endoftext|>"),
    ("google-gemma-2-2b-it.jinja", "gemma", "<eos>"),
    ("mistralai-Mistral-Nemo-Instruct-2407.jinja", "mistral", "</s>"),
    ("deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-r1", "<｜end▁of▁sentence｜>"),
    ("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "deepseek-r1", "<｜end▁of▁sentence｜>"),
    # Hermes' tool_use templates: only with tools (without them its
    # default template, ChatML, is the one a server uses).
    ("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "hermes", "<|im_end|>"),
    ("NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "hermes", "<|im_end|>"),
]
TOOLS_ONLY = {"hermes"}


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = [
    [m("user", "Hi")],
    [m("system", "Be brief."), m("user", "Hi")],
    [m("system", "Be brief."), m("user", "Hi"), m("assistant", "Hello!"), m("user", "Bye")],
    [m("user", "What is 2+2?"), m("assistant", "4"), m("user", "And 3+3?")],
    [m("user", "  padded, with a newline\n\n"), m("assistant", "\tok \n"), m("user", " next ")],
    [m("system", ""), m("user", "empty system")],
    [m("user", "Grüße, 日本語, emoji 😀 and a tag <b>x</b>")],
    [m("user", "think"), m("assistant", "<think>scratch</think>The answer."), m("user", "more")],
    [m("system", "S1"), m("user", "U1"), m("assistant", "A1"), m("user", "U2"),
     m("assistant", "A2"), m("user", "U3")],
    [m("user", "ends with the assistant"), m("assistant", "so no generation prompt... ")],
]

# Function calling, for the families with tool support: (tools, messages).
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city, now. \"Quoted\", tab\tand é",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"enum": ["c", "f"]}, "days": {"type": "integer", "step": 0.25, "big": 1e-07,
                                                                           "maximum": 7}},
        "required": ["city"]}}}
CLOCK = {"type": "function", "function": {"name": "time_now", "description": " The time. ",
                                          "parameters": {"type": "object", "properties": {}}}}
LIST = {"type": "function", "function": {"name": "tag", "description": "Tags a note",
                                         "parameters": {"type": "object", "properties": {
                                             "tags": {"type": "array", "items": {"type": "string"},
                                                      "description": " which\n"},
                                             "meta": {"type": "object",
                                                      "additionalProperties": {"type": "number"}},
                                             "either": {"type": ["string", "integer"]}}}}}


def call(name, args):
    return {"type": "function", "function": {"name": name, "arguments": args}}


TOOL_CONVERSATIONS = [
    ([WEATHER], [m("user", "Weather in Paris?")]),
    ([WEATHER, CLOCK], [m("system", "Use tools."), m("user", "Time and weather?")]),
    ([WEATHER], [m("user", "Paris?"),
                 {"role": "assistant", "content": "", "tool_calls": [call("get_weather",
                                                                          {"city": "Paris"})]},
                 {"role": "tool", "content": "{\"temp\": 21.5}"}]),
    ([WEATHER, CLOCK], [m("user", "Both"),
                        {"role": "assistant", "content": "Checking.",
                         "tool_calls": [call("get_weather", {"city": "Oslo", "days": 2}),
                                        call("time_now", {})]},
                        {"role": "tool", "content": "cold"}, {"role": "tool", "content": "noon"},
                        m("assistant", "Cold at noon."), m("user", "Thanks")]),
    (None, [m("user", "no tools here"), {"role": "tool", "content": "a stray result"}]),
    ([LIST, CLOCK], [m("user", "Tag it"),
                     {"role": "assistant", "content": "",
                      "tool_calls": [call("tag", {"tags": ["a", "é"], "either": 3})]},
                     {"role": "tool", "content": "ok"}]),
]
TOOL_FAMILIES = {"qwen2.5", "llama3.1", "hermes"}


class Refused(Exception):
    pass


def raise_exception(msg):
    raise Refused(msg)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers' own tojson filter (not Jinja's, which escapes HTML
    # characters and sorts keys).
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                      sort_keys=sort_keys)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = tojson
    return env


def render_one(tpl_file, bos, eos):
    """--render: the template's rendering of the messages on stdin."""
    tpl = environment().from_string(open(tpl_file, encoding="utf-8").read())
    sys.stdout.write(tpl.render(messages=json.load(sys.stdin), add_generation_prompt=True,
                                bos_token=bos, eos_token=eos))
    return 0


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--render":
        return render_one(*sys.argv[2:])
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    helper, tdir = sys.argv[1], sys.argv[2]
    if not os.path.isdir(tdir):
        print(f"SKIP: {tdir} is missing")
        return 77
    env = environment()
    failures = compared = 0
    for fname, name, eos in FAMILIES:
        text = open(os.path.join(tdir, fname), encoding="utf-8").read()
        got = subprocess.run([helper, "--detect"], input=text.encode(), capture_output=True,
                             check=True).stdout.decode().strip()
        if got != name:
            print(f"FAIL: {fname} detected as {got}, want {name}")
            failures += 1
        tpl = env.from_string(text)
        n_here = refused = 0
        for conv in CONVERSATIONS if name not in TOOLS_ONLY else []:
            try:
                want = tpl.render(messages=conv, add_generation_prompt=True, bos_token="",
                                  eos_token=eos)
            except Refused:
                refused += 1
                continue
            out = subprocess.run([helper, name], input=json.dumps(conv).encode(),
                                 capture_output=True)
            if out.returncode != 0:
                print(f"FAIL: {fname}: render_chat exit {out.returncode}: {out.stderr.decode()}")
                failures += 1
                continue
            mine = out.stdout.decode()
            n_here += 1
            if mine != want:
                failures += 1
                print(f"FAIL: {fname} on {json.dumps(conv)}:\n  jinja2: {want!r}\n  weft:   "
                      f"{mine!r}")
        for tools, conv in TOOL_CONVERSATIONS if name in TOOL_FAMILIES else []:
            out = subprocess.run([helper, name],
                                 input=json.dumps({"messages": conv, "tools": tools}).encode(),
                                 capture_output=True)
            try:
                want = tpl.render(messages=conv, tools=tools, add_generation_prompt=True,
                                  bos_token="", eos_token=eos)
            except Refused:
                # Weft refuses what the template refuses (two calls in one
                # Llama turn).
                refused += 1
                if out.returncode == 0:
                    failures += 1
                    print(f"FAIL: {fname}: rendered what the template refuses: {json.dumps(conv)}")
                continue
            except (jinja2.exceptions.UndefinedError, TypeError):
                # The template breaks on what it does not expect (Hermes
                # without tools); Weft renders it anyway.
                refused += 1
                continue
            mine = out.stdout.decode()
            n_here += 1
            if out.returncode != 0 or mine != want:
                failures += 1
                print(f"FAIL: {fname} with tools on {json.dumps(conv)}:\n  jinja2: {want!r}\n"
                      f"  weft:   {mine!r} (exit {out.returncode})")
        compared += n_here
        print(f"{fname}: {n_here} conversations equal, {refused} refused by the template")
        if n_here < (3 if name in TOOLS_ONLY else 4):
            print(f"FAIL: {fname}: fewer than 4 conversations compared")
            failures += 1
    print(f"{compared} renderings compared, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
