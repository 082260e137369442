/* A replay's series and their SVG (include/weft/plot.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/error.h"
#include "weft/plot.h"

static const char *const names[WEFT_S_COUNT] = {"pv_w", "load_w", "compute_w", "grid_w", "soc_pct"};
static const char *const labels[WEFT_S_COUNT] = {"PV", "load", "compute", "grid (+ import)",
                                                 "battery charge"};
static const char *const colours[WEFT_S_COUNT] = {"#d99a00", "#1f77b4", "#9467bd", "#7f7f7f",
                                                  "#2ca02c"};

const char *weft_series_name(enum weft_series_kind k)
{
    return k >= 0 && k < WEFT_S_COUNT ? names[k] : "?";
}

int weft_series_init(struct weft_series *s, const struct weft_profile *p, double from_s,
                     double span_s, int poll_s)
{
    memset(s, 0, sizeof *s);
    double total = weft_profile_seconds(p);
    if (poll_s <= 0 || !(from_s >= 0 && from_s < total) || !(span_s > 0))
        return WEFT_EINVAL;
    if (from_s + span_s > total)
        span_s = total - from_s;
    double steps = ceil(span_s / poll_s / WEFT_SERIES_MAX);
    s->bucket_s = (steps < 1 ? 1 : steps) * poll_s;
    s->n = (int)ceil(span_s / s->bucket_s);
    s->from_s = from_s;
    s->span_s = span_s;
    s->start_s = p->start_s + (int64_t)from_s;
    for (int k = 0; k < WEFT_S_COUNT; k++)
        if (!(s->v[k] = calloc((size_t)s->n, sizeof(double)))) {
            weft_series_free(s);
            return WEFT_ENOMEM;
        }
    if (!(s->count = calloc((size_t)s->n, sizeof(int)))) {
        weft_series_free(s);
        return WEFT_ENOMEM;
    }
    return 0;
}

void weft_series_trace(void *ud, const struct weft_replay_point *pt)
{
    struct weft_series *s = ud;
    double x = (pt->t_s - s->from_s) / s->bucket_s;
    if (!(x >= 0) || x >= s->n)
        return;
    int i = (int)x;
    double v[WEFT_S_COUNT] = {pt->pv_w, pt->load_w, pt->compute_w, pt->grid_w, pt->soc_pct};
    for (int k = 0; k < WEFT_S_COUNT; k++)
        s->v[k][i] += v[k];
    s->count[i]++;
}

void weft_series_finish(struct weft_series *s)
{
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < WEFT_S_COUNT && s->count[i] > 0; k++)
            s->v[k][i] /= s->count[i];
}

void weft_series_free(struct weft_series *s)
{
    for (int k = 0; k < WEFT_S_COUNT; k++)
        free(s->v[k]);
    free(s->count);
    memset(s, 0, sizeof *s);
}

/* ---- the picture ---------------------------------------------------------- */

enum { WIDTH = 1000, HEIGHT = 640, LEFT = 70, RIGHT = 20 };
enum { P_TOP = 64, P_HEIGHT = 360, S_TOP = 470, S_HEIGHT = 130 };
#define PLOT_W (WIDTH - LEFT - RIGHT)

/* A round step giving about five ticks over range (1, 2 or 5 x 10^k). */
static double nice_step(double range)
{
    double raw = range / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

static int text_escaped(struct weft_buf *b, const char *t)
{
    int rc = 0;
    for (; *t && rc == 0; t++) {
        switch (*t) {
        case '&':
            rc = weft_buf_append_str(b, "&amp;");
            break;
        case '<':
            rc = weft_buf_append_str(b, "&lt;");
            break;
        case '>':
            rc = weft_buf_append_str(b, "&gt;");
            break;
        case '"':
            rc = weft_buf_append_str(b, "&quot;");
            break;
        default:
            rc = weft_buf_append_byte(b, *t);
        }
    }
    return rc;
}

/* Time ticks: the smallest step of these that gives at most 12. */
static double time_step(double span_s)
{
    static const double steps[] = {3600,       3 * 3600,   6 * 3600,   12 * 3600,
                                   86400,      2 * 86400,  7 * 86400,  14 * 86400,
                                   30 * 86400, 61 * 86400, 91 * 86400, 182 * 86400};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (span_s / steps[i] <= 12)
            return steps[i];
    return 365 * 86400.0;
}

static int axes(const struct weft_series *s, double y0, double y1, struct weft_buf *b)
{
    int rc = 0;
    double step = nice_step(y1 - y0);
    for (double y = ceil(y0 / step) * step; y <= y1 + step * 1e-9 && rc == 0; y += step) {
        double py = P_TOP + P_HEIGHT * (1 - (y - y0) / (y1 - y0));
        rc = weft_buf_appendf(b,
                              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f W</text>\n",
                              LEFT, py, WIDTH - RIGHT, py, LEFT - 6, py + 4, y);
    }
    for (int q = 0; q <= 100 && rc == 0; q += 25) {
        double py = S_TOP + S_HEIGHT * (1 - q / 100.0);
        rc = weft_buf_appendf(b,
                              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" class=\"grid\"/>"
                              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d %%</text>\n",
                              LEFT, py, WIDTH - RIGHT, py, LEFT - 6, py + 4, q);
    }
    /* Time ticks on whole steps of the local clock. */
    double ts = time_step(s->span_s);
    double first = ceil((double)s->start_s / ts) * ts - (double)s->start_s;
    for (double t = first; t < s->span_s && rc == 0; t += ts) { /* the right edge: no label */
        double px = LEFT + PLOT_W * t / s->span_s;
        time_t at = (time_t)(s->start_s + (int64_t)t);
        struct tm tm;
        gmtime_r(&at, &tm);
        char lab[32];
        /* Hours within a day, the date at midnight and for longer steps. */
        strftime(lab, sizeof lab, ts < 86400 && (tm.tm_hour || tm.tm_min) ? "%H:%M" : "%Y-%m-%d",
                 &tm);
        rc = weft_buf_appendf(b,
                              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" class=\"grid\"/>"
                              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                              px, P_TOP, px, S_TOP + S_HEIGHT, px, S_TOP + S_HEIGHT + 18, lab);
    }
    return rc;
}

static int polyline(const struct weft_series *s, int k, double y0, double y1, int top, int height,
                    struct weft_buf *b)
{
    int rc = weft_buf_appendf(b,
                              "<polyline class=\"series\" data-series=\"%s\" data-y0=\"%.6g\" "
                              "data-y1=\"%.6g\" data-top=\"%d\" data-height=\"%d\" "
                              "data-left=\"%d\" data-width=\"%d\" data-bucket-s=\"%.6g\" "
                              "stroke=\"%s\" points=\"",
                              names[k], y0, y1, top, height, LEFT, PLOT_W, s->bucket_s, colours[k]);
    for (int i = 0; i < s->n && rc == 0; i++) {
        if (s->count[i] == 0)
            continue;
        double t = (i + 0.5) * s->bucket_s, v = s->v[k][i];
        rc = weft_buf_appendf(b, "%.1f,%.1f ", LEFT + PLOT_W * t / s->span_s,
                              top + height * (1 - (v - y0) / (y1 - y0)));
    }
    return rc ? rc : weft_buf_append_str(b, "\"/>\n");
}

int weft_series_svg(const struct weft_series *s, const char *title, struct weft_buf *b)
{
    double lo = 0, hi = 0;
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < WEFT_S_SOC && s->count[i] > 0; k++) {
            lo = fmin(lo, s->v[k][i]);
            hi = fmax(hi, s->v[k][i]);
        }
    if (hi - lo < 1)
        hi = lo + 1;
    double step = nice_step(hi - lo);
    double y0 = floor(lo / step) * step, y1 = ceil(hi / step) * step;
    int rc = weft_buf_appendf(
        b,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
        "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<style>.grid{stroke:#ddd;stroke-width:1}.series{fill:none;stroke-width:1.3}"
        "text{fill:#333}</style>\n"
        "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n<text x=\"%d\" y=\"22\" "
        "font-size=\"15\">",
        WIDTH, HEIGHT, WIDTH, HEIGHT, WIDTH, HEIGHT, LEFT);
    if (rc == 0)
        rc = text_escaped(b, title);
    if (rc == 0)
        rc = weft_buf_append_str(b, "</text>\n");
    for (int k = 0, x = LEFT; k < WEFT_S_COUNT && rc == 0; k++, x += 150)
        rc = weft_buf_appendf(b,
                              "<rect x=\"%d\" y=\"36\" width=\"14\" height=\"4\" fill=\"%s\"/>"
                              "<text x=\"%d\" y=\"42\">%s</text>\n",
                              x, colours[k], x + 20, labels[k]);
    if (rc == 0)
        rc = axes(s, y0, y1, b);
    for (int k = 0; k < WEFT_S_SOC && rc == 0; k++)
        rc = polyline(s, k, y0, y1, P_TOP, P_HEIGHT, b);
    if (rc == 0)
        rc = polyline(s, WEFT_S_SOC, 0, 100, S_TOP, S_HEIGHT, b);
    return rc ? rc : weft_buf_append_str(b, "</svg>\n");
}
