/* The history forecast and the battery plan (include/weft/forecast.h).
 *
 * The forecast is the plainest one that uses what every home has: the same
 * quarter hour on recent days, weighted by age. It knows nothing of
 * tomorrow's weather; what it gets wrong the plan's margin and the policy's
 * hard guards absorb (energy.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weft/clearsky.h"
#include "weft/energy.h"
#include "weft/error.h"
#include "weft/forecast.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

void weft_forecast_init(struct weft_forecast *f)
{
    memset(f, 0, sizeof *f);
    for (int d = 0; d < WEFT_FC_DAYS; d++)
        f->day[d] = -1;
    f->cur_slot = -1;
    f->half_life_days = 3;
    f->load_sigma = 2;
}

/* Closes the slot being accumulated into its day's ring entry. */
static void close_slot(struct weft_forecast *f)
{
    if (f->cur_slot < 0 || f->n == 0)
        return;
    int64_t day = floor_div(f->cur_slot, WEFT_FC_SLOTS);
    int ring = (int)(day % WEFT_FC_DAYS), slot = (int)(f->cur_slot - day * WEFT_FC_SLOTS);
    if (f->day[ring] != day) { /* a new day reuses the oldest entry */
        memset(f->seen[ring], 0, sizeof f->seen[ring]);
        f->day[ring] = day;
    }
    f->pv[ring][slot] = (float)(f->sum_pv / f->n);
    f->load[ring][slot] = (float)(f->sum_load / f->n);
    f->seen[ring][slot] = 1;
}

void weft_forecast_observe(struct weft_forecast *f, int64_t local_s, double pv_w, double load_w)
{
    if (isnan(pv_w) || isnan(load_w) || local_s < 0)
        return;
    int64_t slot = local_s / WEFT_FC_SLOT_S;
    if (slot < f->cur_slot)
        return; /* the clock went back: keep what was learnt */
    if (slot != f->cur_slot) {
        close_slot(f);
        f->cur_slot = slot;
        f->sum_pv = f->sum_load = 0;
        f->n = 0;
    }
    f->sum_pv += fmax(pv_w, 0);
    f->sum_load += fmax(load_w, 0);
    f->n++;
}

/* Little-endian fields, so the file reads the same on any host. */
static unsigned char *put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static const unsigned char *get_u64(const unsigned char *p, uint64_t *v)
{
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)p[i] << (8 * i);
    return p + 8;
}

static unsigned char *put_f32(unsigned char *p, float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    for (int i = 0; i < 4; i++)
        *p++ = (unsigned char)(u >> (8 * i));
    return p;
}

static const unsigned char *get_f32(const unsigned char *p, float *x)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)p[i] << (8 * i);
    memcpy(x, &u, 4);
    return p + 4;
}

static const char fc_magic[8] = {'W', 'E', 'F', 'T', 'F', 'C', '0', '1'};

void weft_forecast_save(const struct weft_forecast *f, unsigned char out[WEFT_FC_STATE_BYTES])
{
    unsigned char *p = out;
    memcpy(p, fc_magic, 8);
    p = put_u64(p + 8, WEFT_FC_SLOTS);
    for (int d = 0; d < WEFT_FC_DAYS; d++) {
        p = put_u64(p, (uint64_t)f->day[d]);
        for (int k = 0; k < WEFT_FC_SLOTS; k++) {
            p = put_f32(p, f->pv[d][k]);
            p = put_f32(p, f->load[d][k]);
            *p++ = f->seen[d][k];
        }
    }
}

int weft_forecast_load(struct weft_forecast *f, const unsigned char *data, size_t len)
{
    double half = f->half_life_days, sigma = f->load_sigma;
    weft_forecast_init(f);
    f->half_life_days = half;
    f->load_sigma = sigma;
    uint64_t slots;
    if (len != WEFT_FC_STATE_BYTES || memcmp(data, fc_magic, 8) != 0)
        return WEFT_EFORMAT;
    const unsigned char *p = get_u64(data + 8, &slots);
    if (slots != WEFT_FC_SLOTS)
        return WEFT_EFORMAT;
    static const struct weft_forecast none;
    struct weft_forecast *t = malloc(sizeof *t);
    if (t == NULL)
        return WEFT_ENOMEM;
    *t = none;
    for (int d = 0; d < WEFT_FC_DAYS; d++) {
        uint64_t day;
        p = get_u64(p, &day);
        t->day[d] = (int64_t)day;
        /* A day sits in the ring at its own index, or the entry is empty. */
        int ok = t->day[d] == -1 || (t->day[d] >= 0 && t->day[d] % WEFT_FC_DAYS == d);
        for (int k = 0; k < WEFT_FC_SLOTS && ok; k++) {
            p = get_f32(p, &t->pv[d][k]);
            p = get_f32(p, &t->load[d][k]);
            t->seen[d][k] = *p++;
            ok = t->seen[d][k] <= 1 && isfinite(t->pv[d][k]) && isfinite(t->load[d][k]) &&
                 t->pv[d][k] >= 0 && t->load[d][k] >= 0 && t->pv[d][k] < 1e8 && t->load[d][k] < 1e8;
        }
        if (!ok) {
            free(t);
            return WEFT_EFORMAT;
        }
    }
    memcpy(f->day, t->day, sizeof f->day);
    memcpy(f->pv, t->pv, sizeof f->pv);
    memcpy(f->load, t->load, sizeof f->load);
    memcpy(f->seen, t->seen, sizeof f->seen);
    free(t);
    return 0;
}

int weft_forecast_days(const struct weft_forecast *f)
{
    int n = 0;
    for (int d = 0; d < WEFT_FC_DAYS; d++)
        n += f->day[d] >= 0;
    return n;
}

int weft_forecast_at(const struct weft_forecast *f, int64_t today_s, int64_t t, double *pv_w,
                     double *load_w)
{
    int64_t today = floor_div(today_s, 86400);
    int slot = (int)(floor_div(t, WEFT_FC_SLOT_S) - floor_div(t, 86400) * WEFT_FC_SLOTS);
    double w = 0, pv = 0, load = 0, load2 = 0;
    for (int d = 0; d < WEFT_FC_DAYS; d++) {
        int64_t age = today - f->day[d];
        if (f->day[d] < 0 || age <= 0 || age > WEFT_FC_DAYS || !f->seen[d][slot])
            continue;
        double k = pow(0.5, (double)(age - 1) / f->half_life_days);
        w += k;
        pv += k * f->pv[d][slot];
        load += k * f->load[d][slot];
        load2 += k * f->load[d][slot] * f->load[d][slot];
    }
    if (w <= 0)
        return WEFT_ESTALE;
    *pv_w = pv / w;
    *load_w = load / w;
    /* The house's load is planned high, by load_sigma of its spread over
     * the days: a plan on the mean runs the battery flat on every evening
     * busier than usual. */
    *load_w += f->load_sigma * sqrt(fmax(load2 / w - *load_w * *load_w, 0));
    return 0;
}

int weft_forecast_fn_history(const void *ctx, int64_t now_s, int64_t t, double *pv_w,
                             double *load_w)
{
    return weft_forecast_at(ctx, now_s, t, pv_w, load_w);
}

int weft_forecast_fn_layers(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w)
{
    const struct weft_forecast_layers *l = ctx;
    double pv, unused;
    int rc = weft_forecast_at(l->history, now_s, t, pv_w, load_w);
    if (rc < 0)
        return rc;
    if (l->pv && l->pv(l->pv_ctx, now_s, t, &pv, &unused) == 0)
        *pv_w = pv;
    else if (l->clearsky && l->clearsky_ratio > 0)
        *pv_w = weft_clearsky_at(l->clearsky, t) * l->clearsky_ratio;
    return 0;
}

/* One step of a walk over the horizon, from t to the next quarter hour
 * (or end): its end, its length in hours and the forecast's PV less load.
 * 0, or the forecast's error where it has none. */
static int walk(weft_forecast_fn fc, const void *ctx, int64_t now_s, int64_t t, int64_t end,
                int64_t *next, double *h, double *net)
{
    *next = (floor_div(t, WEFT_FC_SLOT_S) + 1) * WEFT_FC_SLOT_S;
    if (*next > end)
        *next = end;
    double pv = 0, load = 0;
    int rc = fc(ctx, now_s, t, &pv, &load);
    *h = (double)(*next - t) / 3600.0;
    *net = rc < 0 ? 0 : pv - load;
    return rc;
}

/* One step of the plan's battery without compute: net = PV - load (W)
 * over h hours from stored energy *e. Writes what it charged and what the
 * home would export (PV the battery did not take), W. */
static void battery_step(const struct weft_plan_battery *b, double leg, double net, double h,
                         double *e, double *charge, double *export)
{
    *charge = *export = 0;
    if (net > 0) {
        *charge = fmin(net, fmin(b->max_charge_w, (b->capacity_wh - *e) / (leg * h)));
        *e += *charge * leg * h;
        *export = net - *charge;
    } else if (net < 0) {
        *e -= fmin(-net, fmin(b->max_discharge_w, *e * leg / h)) / leg * h;
    }
    *e = fmin(fmax(*e - b->standby_w * h, 0), b->capacity_wh);
}

double weft_forecast_clear_ratio(const struct weft_forecast *f, const struct weft_clearsky *cs,
                                 int64_t today_s)
{
    int64_t today = floor_div(today_s, 86400);
    double got = 0, clear = 0;
    for (int d = 0; d < WEFT_FC_DAYS; d++) {
        int64_t age = today - f->day[d];
        if (f->day[d] < 0 || age <= 0 || age > WEFT_FC_DAYS)
            continue;
        double k = pow(0.5, (double)(age - 1) / f->half_life_days), g = 0, c = 0;
        for (int s = 0; s < WEFT_FC_SLOTS; s++)
            if (f->seen[d][s]) {
                g += f->pv[d][s];
                c += weft_clearsky_at(cs, f->day[d] * 86400 + (int64_t)s * WEFT_FC_SLOT_S);
            }
        got += k * g;
        clear += k * c;
    }
    return clear > 0 ? got / clear : 0;
}

void weft_plan_headroom(weft_forecast_fn fc, const void *ctx, const struct weft_plan_battery *b,
                        double energy_wh, int64_t now_s, int horizon_s, double margin_wh,
                        struct weft_plan *out)
{
    memset(out, 0, sizeof *out);
    out->full_at_s = -1;
    if (b->capacity_wh <= 0 || horizon_s <= 0)
        return;
    double leg = sqrt(b->efficiency), e = fmin(fmax(energy_wh, 0), b->capacity_wh);
    /* Taking d now is safe when, at every step before the export it would
     * have had absorbs d, the battery still holds margin_wh more than d:
     * d <= e_i + a_i - margin for those steps, and d <= a_k at the step k
     * that absorbs it. The best d is the largest min(a_k, the least of
     * e_i + a_i - margin before k) over k. */
    double absorbed = 0, least = e - margin_wh, best = 0;
    out->low_wh = e;
    out->low_at_s = now_s;
    int64_t t = now_s, end = now_s + horizon_s;
    while (t < end) {
        int64_t next;
        double h, net, charge, export;
        if (walk(fc, ctx, now_s, t, end, &next, &h, &net) < 0)
            return; /* no forecast for part of the horizon: no plan */
        battery_step(b, leg, net, h, &e, &charge, &export);
        /* A battery d lower would have charged from this export, up to its
         * charging power. */
        absorbed += fmin(export, fmax(b->max_charge_w - charge, 0)) * leg * h;
        out->export_wh += export * h;
        if (absorbed > 0)
            best = fmax(best, fmin(absorbed, least));
        least = fmin(least, e + absorbed - margin_wh);
        if (e < out->low_wh) {
            out->low_wh = e;
            out->low_at_s = next;
        }
        if (out->full_at_s < 0 && e >= b->capacity_wh * 0.999)
            out->full_at_s = next;
        t = next;
    }
    out->headroom_wh = fmax(best, 0);
    out->valid = 1;
}

void weft_plan_battery_of(const struct weft_policy_settings *s, struct weft_plan_battery *b)
{
    double p = s->battery_max_w > 0 ? s->battery_max_w : s->battery_capacity_wh;
    *b = (struct weft_plan_battery){.capacity_wh = s->battery_capacity_wh,
                                    .max_charge_w = p,
                                    .max_discharge_w = p,
                                    .efficiency = s->battery_efficiency,
                                    .standby_w = 0};
}

int weft_plan_budget_s(weft_forecast_fn fc, const void *ctx, const struct weft_plan_battery *b,
                       double energy_wh, int64_t now_s, int horizon_s, const struct weft_plan *plan,
                       double draw_w)
{
    if (!plan->valid || draw_w <= 0 || b->capacity_wh <= 0)
        return 0;
    double leg = sqrt(b->efficiency), e = fmin(fmax(energy_wh, 0), b->capacity_wh);
    double left = plan->headroom_wh; /* stored Wh compute may still take */
    int64_t t = now_s, end = now_s + horizon_s;
    while (t < end) {
        int64_t next;
        double h, net, charge, free_w;
        if (walk(fc, ctx, now_s, t, end, &next, &h, &net) < 0)
            break;
        battery_step(b, leg, net, h, &e, &charge, &free_w); /* without compute */
        double need = free_w >= draw_w ? 0 : (draw_w - free_w) / leg * h;
        if (need > left) /* spent part way through the step */
            return (int)(t - now_s + (need > 0 ? (double)(next - t) * left / need : 0));
        left -= need;
        t = next;
    }
    return (int)(t - now_s);
}
