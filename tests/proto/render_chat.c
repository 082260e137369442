/* Test helper: renders a conversation with one of Weft's chat templates,
 * for tests/proto/templates_match_jinja2.py to compare with the models'
 * own Jinja templates. Usage: render_chat TEMPLATE < messages.json, where
 * the JSON is [{"role": ..., "content": ...}, ...]; prints the prompt.
 * render_chat --detect < template.jinja prints the family detected. */
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <string.h>
#include "weft/chat.h"

int main(int argc, char **argv)
{
    static char in[1 << 20];
    size_t n = fread(in, 1, sizeof in - 1, stdin);
    in[n] = '\0';
    enum weft_chat_template t;
    if (argc == 2 && strcmp(argv[1], "--detect") == 0) {
        /* stdin is a Jinja template: print the family Weft takes it for. */
        if (weft_chat_template_detect(in, &t) != 0) {
            printf("unknown\n");
            return 0;
        }
        printf("%s\n", weft_chat_template_name(t));
        return 0;
    }
    if (argc != 2 || weft_chat_template_parse(argv[1], &t) != 0) {
        fprintf(stderr, "usage: render_chat TEMPLATE < messages.json | render_chat --detect < "
                        "template.jinja\n");
        return 2;
    }
    /* An array of messages, or {"messages": [...], "tools": [...]}. */
    cJSON *doc = cJSON_Parse(in);
    cJSON *a = cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "messages") : doc;
    const cJSON *tools =
        cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "tools") : NULL;
    int count = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (count < 0 || count > 64) {
        fprintf(stderr, "render_chat: expected a JSON array of up to 64 messages\n");
        cJSON_Delete(doc);
        return 2;
    }
    struct weft_chat_msg msgs[64];
    char *calls[64] = {0};
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < count; i++) {
        const cJSON *m = cJSON_GetArrayItem(a, i);
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!cJSON_IsString(role) || !cJSON_IsString(content)) {
            fprintf(stderr, "render_chat: message %d needs string role and content\n", i);
            cJSON_Delete(doc);
            return 2;
        }
        msgs[i].role = role->valuestring;
        msgs[i].content = content->valuestring;
        /* OpenAI's tool_calls (arguments an object here) in Weft's form. */
        const cJSON *tc = cJSON_GetObjectItemCaseSensitive(m, "tool_calls"), *c;
        if (cJSON_IsArray(tc)) {
            cJSON *w = cJSON_CreateArray();
            cJSON_ArrayForEach(c, tc)
            {
                const cJSON *f = cJSON_GetObjectItemCaseSensitive(c, "function");
                cJSON *one = cJSON_CreateObject();
                cJSON_AddItemToObject(
                    one, "name", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(f, "name"), 1));
                cJSON_AddItemToObject(
                    one, "arguments",
                    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(f, "arguments"), 1));
                cJSON_AddItemToArray(w, one);
            }
            msgs[i].tool_calls = calls[i] = cJSON_PrintUnformatted(w);
            cJSON_Delete(w);
        }
    }
    char *tools_text = cJSON_IsArray(tools) ? cJSON_PrintUnformatted(tools) : NULL;
    struct weft_buf out;
    weft_buf_init(&out, 1 << 22);
    int rc = weft_chat_render_tools(msgs, count, t, tools_text, &out, NULL);
    if (rc == 0 && out.len)
        fwrite(out.data, 1, out.len, stdout);
    weft_buf_free(&out);
    free(tools_text);
    for (int i = 0; i < count; i++)
        free(calls[i]);
    cJSON_Delete(doc);
    return rc == 0 ? 0 : 1;
}
