/* The replay's oracle: the most compute energy a controller that knew the
 * whole future could have run without importing more than the home did
 * without compute, as a linear program, solved two ways: GLPK's simplex on
 * the program, and its Lagrangian dual with an exact dynamic program
 * (below), which is a hundred times faster and the default.
 *
 * Why a linear program, and why it is a bound. The replay's home steps
 * every poll_s seconds. Group the steps into bins of bin_s seconds and
 * average each step's PV minus load over its bin. Per bin b (h_b hours):
 *
 *   variables  c_b compute [0, max_compute_w], ch_b charge [0, P],
 *              dis_b discharge [0, P], imp_b import >= 0, exp_b export >= 0,
 *              sg_b the battery's standby drawn from the house [0, standby],
 *              E_b the battery's energy at the bin's end [0, capacity]
 *   balance    c_b + ch_b - dis_b - imp_b + exp_b + sg_b = net_b
 *   battery    E_b = E_{b-1} + leg*h_b*ch_b - h_b/leg*dis_b - h_b*(standby - sg_b)
 *   import     sum h_b*imp_b <= the import of the home without compute
 *   maximise   sum h_b*c_b
 *
 * where leg = sqrt(round-trip efficiency). Every run of the replay's
 * simulator, under any policy, averaged over the bins, satisfies these
 * constraints (they are linear, and the simulator's battery is one choice
 * of ch, dis and sg), so its compute is at most the optimum whenever it
 * imports no more than the home without compute. The program is a
 * relaxation in three ways, each of which only raises the optimum: the
 * battery may be dispatched freely rather than by the self-consumption rule,
 * compute may run below min_run_w, and within a bin surplus and deficit
 * may net against each other. So the optimum is an upper bound, never
 * flattering a policy, and for the lossless battery it agrees with the
 * closed form (always-on's compute less its extra import) to within the
 * bins' netting (tests/energy/test_sim.c, which also holds the two solvers
 * to each other).
 */
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/energy_sim.h"
#include "weft/error.h"

/* GLPK prints to stdout unless told not to; the replay's stdout is JSON. */
static int quiet(void *info, const char *s)
{
    (void)info;
    (void)s;
    return 1;
}

enum { C, CH, DIS, IMP, EXP, SG, E, NVAR };

/* The policy's shares of the oracle, in total and per month. */
static void shares(struct weft_replay_result *r)
{
    r->oracle_share = r->oracle_wh > 0 ? r->compute_wh / r->oracle_wh : 0;
    for (int i = 0; i < r->n_months; i++) {
        struct weft_replay_month *m = &r->months[i];
        m->oracle_share = m->oracle_wh > 0 ? m->compute_wh / m->oracle_wh : 0;
    }
}

/* The index of t's month in r, or r->n_months when r has none for it. */
static int month_index(const struct weft_replay_result *r, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    for (int i = 0; i < r->n_months; i++)
        if (r->months[i].year == tm.tm_year + 1900 && r->months[i].month == tm.tm_mon + 1)
            return i;
    return r->n_months;
}

/* The profile averaged into bins: what both solvers read. */
struct bins {
    long n;
    double *net;   /* PV less load, W, averaged over the simulator's steps */
    double *hours; /* the bin's length */
    int *month;    /* index into the result's months (n_months: none) */
};

static void bins_free(struct bins *b)
{
    free(b->net), free(b->hours), free(b->month);
}

static int bins_make(const struct weft_profile *p, const struct weft_replay_opts *o, int bin_s,
                     const struct weft_replay_result *r, struct bins *bn, char *err, size_t errcap)
{
    memset(bn, 0, sizeof *bn);
    if (bin_s < o->poll_s || bin_s % o->poll_s != 0) {
        snprintf(err, errcap, "oracle bins of %d s must be a multiple of the %d s poll", bin_s,
                 o->poll_s);
        return WEFT_EINVAL;
    }
    double total = weft_profile_seconds(p), dt = o->poll_s;
    long steps = (long)ceil(total / dt);
    int per = bin_s / o->poll_s;
    long nb = (steps + per - 1) / per;
    if (nb < 1 || nb > 10 * 1000 * 1000) {
        snprintf(err, errcap, "oracle: %ld bins is out of range", nb);
        return WEFT_EINVAL;
    }
    bn->n = nb;
    bn->net = calloc((size_t)nb, sizeof *bn->net);
    bn->hours = calloc((size_t)nb, sizeof *bn->hours);
    bn->month = calloc((size_t)nb, sizeof *bn->month);
    if (!bn->net || !bn->hours || !bn->month) {
        bins_free(bn);
        snprintf(err, errcap, "oracle: out of memory");
        return WEFT_ENOMEM;
    }
    /* The same samples the simulator steps through. */
    for (long i = 0; i < steps; i++) {
        double t = (double)i * dt, load, pv;
        weft_profile_at(p, t, &load, &pv);
        bn->net[i / per] += pv - load;
        bn->hours[i / per] += dt / 3600.0;
    }
    for (long b = 0; b < nb; b++) {
        bn->net[b] /= bn->hours[b] * 3600.0 / dt;
        bn->month[b] = month_index(r, p->start_s + (int64_t)((double)b * bin_s));
    }
    return 0;
}

/* The program as GLPK's simplex solves it. Writes the optimum and each
 * bin's compute (Wh) into bin_wh. */
static int solve_lp(const struct bins *bn, const struct weft_replay_opts *o, double import_cap,
                    double *optimum, double *bin_wh, char *err, size_t errcap)
{
    long nb = bn->n;
    const double *net = bn->net, *hours = bn->hours;
    const struct weft_policy_settings *s = &o->settings;
    int batt = o->battery_wh > 0;
    double leg = sqrt(o->battery_eff), standby = batt ? o->battery_standby_w : 0;
    glp_term_hook(quiet, NULL);
    glp_prob *lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MAX);
    /* Columns: NVAR per bin (the battery's only with a battery). */
    int nv = batt ? NVAR : EXP + 1;
    glp_add_cols(lp, (int)(nb * nv));
    /* Rows: a balance per bin, a battery row per bin, the import cap. */
    glp_add_rows(lp, (int)(nb * (batt ? 2 : 1) + 1));
    size_t nz = (size_t)nb * 12 + 1, k = 0;
    int *ia = malloc((nz + 1) * sizeof *ia), *ja = malloc((nz + 1) * sizeof *ja);
    double *ar = malloc((nz + 1) * sizeof *ar);
    if (!ia || !ja || !ar) {
        free(ia), free(ja), free(ar), glp_delete_prob(lp);
        snprintf(err, errcap, "oracle: out of memory");
        return WEFT_ENOMEM;
    }
#define COL(b, v)          ((int)((b)*nv + (v) + 1))
#define PUT(row, col, val) (k++, ia[k] = (row), ja[k] = (col), ar[k] = (val))
    int cap_row = (int)(nb * (batt ? 2 : 1) + 1);
    for (long b = 0; b < nb; b++) {
        double h = hours[b];
        glp_set_col_bnds(lp, COL(b, C), GLP_DB, 0, s->max_compute_w);
        glp_set_obj_coef(lp, COL(b, C), h);
        glp_set_col_bnds(lp, COL(b, IMP), GLP_LO, 0, 0);
        glp_set_col_bnds(lp, COL(b, EXP), GLP_LO, 0, 0);
        int bal = (int)(b * (batt ? 2 : 1) + 1);
        glp_set_row_bnds(lp, bal, GLP_FX, net[b], net[b]);
        PUT(bal, COL(b, C), 1);
        PUT(bal, COL(b, IMP), -1);
        PUT(bal, COL(b, EXP), 1);
        PUT(cap_row, COL(b, IMP), h);
        if (!batt)
            continue;
        glp_set_col_bnds(lp, COL(b, CH), GLP_DB, 0, o->battery_w);
        glp_set_col_bnds(lp, COL(b, DIS), GLP_DB, 0, o->battery_w);
        if (standby > 0)
            glp_set_col_bnds(lp, COL(b, SG), GLP_DB, 0, standby);
        else
            glp_set_col_bnds(lp, COL(b, SG), GLP_FX, 0, 0);
        glp_set_col_bnds(lp, COL(b, E), GLP_DB, 0, o->battery_wh);
        PUT(bal, COL(b, CH), 1);
        PUT(bal, COL(b, DIS), -1);
        PUT(bal, COL(b, SG), 1);
        /* E_b - E_{b-1} - leg*h*ch + h/leg*dis - h*sg = -h*standby */
        int en = bal + 1;
        double rhs = -h * standby;
        if (b == 0)
            rhs += o->battery_wh * o->battery_start_soc / 100.0;
        else
            PUT(en, COL(b - 1, E), -1);
        glp_set_row_bnds(lp, en, GLP_FX, rhs, rhs);
        PUT(en, COL(b, E), 1);
        PUT(en, COL(b, CH), -leg * h);
        PUT(en, COL(b, DIS), h / leg);
        PUT(en, COL(b, SG), -h);
    }
    glp_set_row_bnds(lp, cap_row, GLP_UP, 0, import_cap);
#undef PUT
    glp_load_matrix(lp, (int)k, ia, ja, ar);
    free(ia), free(ja), free(ar);

    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_ON;
    glp_scale_prob(lp, GLP_SF_AUTO);
    int rc = glp_simplex(lp, &parm);
    int st = rc == 0 ? glp_get_status(lp) : GLP_UNDEF;
    if (st != GLP_OPT) {
        snprintf(err, errcap, "oracle: the linear program was not solved (glpk %d, status %d)", rc,
                 st);
        glp_delete_prob(lp);
        glp_term_hook(NULL, NULL);
        return WEFT_EINVAL;
    }
    *optimum = glp_get_obj_val(lp);
    for (long b = 0; b < nb; b++)
        bin_wh[b] = hours[b] * glp_get_col_prim(lp, COL(b, C));
#undef COL
    glp_delete_prob(lp);
    glp_term_hook(NULL, NULL);
    return 0;
}

/* --- The same optimum, fast: a Lagrangian dual and an exact dynamic program.
 *
 * For a price lambda >= 0 on import, UB(lambda) = lambda * import_cap +
 * max sum_b h_b*(c_b - lambda*imp_b) over the same constraints less the
 * import row. Every UB(lambda) bounds the program from above (weak
 * duality), and the least of them equals it (strong duality for linear
 * programs), so a search over lambda finds the optimum and any lambda
 * that search stops at is still a bound.
 *
 * The inner maximum is a chain over the battery's energy. In each bin the
 * best use of a change u in stored energy is a concave piecewise-linear
 * reward phi(u) (compute, export and import netted at the price), and the
 * value of the energy left, V_b(E) = max_u phi_b(u) + V_{b+1}(E + u), is
 * concave piecewise linear too: a max-plus convolution, which for concave
 * functions is the merge of their segments by slope. Its slopes are the
 * marginal worth of a stored watt-hour, a handful of values, so each bin
 * costs a few dozen operations. */

#define PWL_MAX 32

/* A concave piecewise-linear function on [x0, x0 + sum len]: its value at
 * x0 and its segments, slopes decreasing. */
struct pwl {
    double x0, y0;
    int n;
    double len[PWL_MAX], slope[PWL_MAX];
};

static void pwl_push(struct pwl *f, double len, double slope)
{
    if (!(len > 1e-12))
        return;
    if (f->n > 0 && fabs(f->slope[f->n - 1] - slope) <= 1e-12 * fmax(1, fabs(slope))) {
        f->len[f->n - 1] += len;
        return;
    }
    if (f->n == PWL_MAX) {
        /* Never met in practice. Lengthening the last segment at its own
         * (larger) slope only raises the function: still a bound. */
        f->len[f->n - 1] += len;
        return;
    }
    f->len[f->n] = len;
    f->slope[f->n] = slope;
    f->n++;
}

static double pwl_at(const struct pwl *f, double x)
{
    double y = f->y0, at = f->x0;
    for (int i = 0; i < f->n && x > at; i++) {
        double step = fmin(f->len[i], x - at);
        y += f->slope[i] * step;
        at += step;
    }
    return y;
}

/* out = (f max-plus-convolved with g) restricted to [lo, hi]. */
static void pwl_conv_clip(const struct pwl *f, const struct pwl *g, double lo, double hi,
                          struct pwl *out)
{
    double x = f->x0 + g->x0, y = f->y0 + g->y0;
    int i = 0, j = 0, started = x >= lo;
    out->n = 0;
    out->x0 = x;
    out->y0 = y;
    while (i < f->n || j < g->n) {
        double len, sl;
        if (j >= g->n || (i < f->n && f->slope[i] >= g->slope[j]))
            len = f->len[i], sl = f->slope[i], i++;
        else
            len = g->len[j], sl = g->slope[j], j++;
        double a = x, ya = y;
        x += len;
        y += sl * len;
        if (x <= lo)
            continue;
        if (!started) {
            out->x0 = lo;
            out->y0 = ya + sl * (lo - a);
            a = lo;
            started = 1;
        }
        if (fmin(x, hi) > a)
            pwl_push(out, fmin(x, hi) - a, sl);
        if (x >= hi)
            break;
    }
    if (!started) {
        out->x0 = lo;
        out->y0 = y;
    }
}

/* One bin's model: what a stored-energy change u costs in power. */
struct stage {
    double h, net, standby, leg, cmax, pc, pd, lambda;
};

/* The stored-energy change of house-side battery power w (+ charging),
 * the standby paid from the battery first when it discharges anyway. */
static double stored(const struct stage *st, double w)
{
    if (w >= 0)
        return st->leg * st->h * w;
    if (w >= -st->standby)
        return st->h * w;
    return st->h * (w + st->standby) / st->leg - st->h * st->standby;
}

static double power_for(const struct stage *st, double u)
{
    if (u >= 0)
        return u / (st->leg * st->h);
    if (u >= -st->h * st->standby)
        return u / st->h;
    return (u + st->h * st->standby) * st->leg / st->h - st->standby;
}

/* Compute and import (W) when the battery takes w, at the price. */
static void use(const struct stage *st, double w, double *c, double *imp)
{
    double r = st->net - st->standby - w; /* what the house side has left */
    if (st->lambda >= 1) {
        *c = fmin(st->cmax, fmax(r, 0));
        *imp = fmax(-r, 0);
    } else { /* import is cheaper than compute is worth: run flat out */
        *c = st->cmax;
        *imp = fmax(st->cmax - r, 0);
    }
}

static double reward(const struct stage *st, double w)
{
    double c, imp;
    use(st, w, &c, &imp);
    return st->h * (c - st->lambda * imp);
}

/* phi as the function of x = -u (so that V_b = phi~ (+) V_{b+1}), and its
 * breakpoints in u. */
static int stage_fn(const struct stage *st, struct pwl *f, double *us)
{
    double ws[6] = {-st->pd - st->standby,           -st->standby, 0, st->pc, st->net - st->standby,
                    st->net - st->standby - st->cmax};
    double lo = ws[0], hi = ws[3];
    int n = 0;
    double pts[6];
    for (int i = 0; i < 6; i++)
        if (ws[i] >= lo && ws[i] <= hi)
            pts[n++] = ws[i];
    for (int i = 1; i < n; i++) /* sort descending: x = -u ascends */
        for (int k = i; k > 0 && pts[k] > pts[k - 1]; k--) {
            double t = pts[k];
            pts[k] = pts[k - 1];
            pts[k - 1] = t;
        }
    f->n = 0;
    f->x0 = -stored(st, pts[0]);
    f->y0 = reward(st, pts[0]);
    int m = 0;
    us[m++] = stored(st, pts[0]);
    for (int i = 1; i < n; i++) {
        double x0 = -stored(st, pts[i - 1]), x1 = -stored(st, pts[i]);
        if (x1 - x0 <= 1e-12)
            continue;
        pwl_push(f, x1 - x0, (reward(st, pts[i]) - reward(st, pts[i - 1])) / (x1 - x0));
        us[m++] = stored(st, pts[i]);
    }
    /* phi is concave in exact arithmetic; should rounding disagree, the
     * slopes sorted give its concave envelope, which only raises it. */
    for (int i = 1; i < f->n; i++)
        for (int k = i; k > 0 && f->slope[k] > f->slope[k - 1]; k--) {
            double t = f->slope[k], l = f->len[k];
            f->slope[k] = f->slope[k - 1], f->len[k] = f->len[k - 1];
            f->slope[k - 1] = t, f->len[k - 1] = l;
        }
    return m;
}

struct dp {
    const struct bins *bn;
    const struct weft_replay_opts *o;
    double import_cap;
    struct pwl *v; /* V_b for every bin and the end, for the forward pass; or NULL */
};

static void stage_at(const struct dp *d, long b, double lambda, struct stage *st)
{
    int batt = d->o->battery_wh > 0;
    *st = (struct stage){.h = d->bn->hours[b],
                         .net = d->bn->net[b],
                         .standby = batt ? d->o->battery_standby_w : 0,
                         .leg = sqrt(d->o->battery_eff),
                         .cmax = d->o->settings.max_compute_w,
                         .pc = batt ? d->o->battery_w : 0,
                         .pd = batt ? d->o->battery_w : 0,
                         .lambda = lambda};
}

/* UB(lambda); with d->v, every V_b kept. */
static double dual(const struct dp *d, double lambda)
{
    double cap = d->o->battery_wh;
    struct pwl v = {.x0 = 0, .y0 = 0, .n = 0}, f, next;
    pwl_push(&v, cap, 0);
    if (d->v)
        d->v[d->bn->n] = v;
    double us[6];
    for (long b = d->bn->n - 1; b >= 0; b--) {
        struct stage st;
        stage_at(d, b, lambda, &st);
        stage_fn(&st, &f, us);
        pwl_conv_clip(&f, &v, 0, cap, &next);
        v = next;
        if (d->v)
            d->v[b] = v;
    }
    double e0 = cap * d->o->battery_start_soc / 100.0;
    return lambda * d->import_cap + pwl_at(&v, e0);
}

/* The inner problem's maximiser at lambda, forward from the start: its
 * compute per bin (Wh) and its import. Needs d->v from dual(d, lambda). */
static double forward(const struct dp *d, double lambda, double *bin_wh)
{
    double cap = d->o->battery_wh, e = cap * d->o->battery_start_soc / 100.0, imported = 0;
    struct pwl f;
    double us[6];
    for (long b = 0; b < d->bn->n; b++) {
        struct stage st;
        stage_at(d, b, lambda, &st);
        int m = stage_fn(&st, &f, us);
        const struct pwl *v = &d->v[b + 1];
        /* The maximum of a concave sum lies at a breakpoint of either. */
        double ulo = fmax(us[m - 1], -e), uhi = fmin(us[0], cap - e);
        double best_u = ulo, best = -INFINITY;
        double cand[6 + PWL_MAX + 3];
        int nc = 0;
        for (int i = 0; i < m; i++)
            cand[nc++] = us[i];
        double at = v->x0;
        cand[nc++] = at - e;
        for (int i = 0; i < v->n; i++)
            cand[nc++] = (at += v->len[i]) - e;
        cand[nc++] = ulo;
        cand[nc++] = uhi;
        for (int i = 0; i < nc; i++) {
            double u = fmin(fmax(cand[i], ulo), uhi);
            double val = pwl_at(&f, -u) + pwl_at(v, e + u);
            if (val > best) {
                best = val;
                best_u = u;
            }
        }
        double c, imp;
        use(&st, power_for(&st, best_u), &c, &imp);
        bin_wh[b] = st.h * c;
        imported += st.h * imp;
        e = fmin(fmax(e + best_u, 0), cap);
    }
    return imported;
}

static int solve_dp(const struct bins *bn, const struct weft_replay_opts *o, double import_cap,
                    double *optimum, double *bin_wh, char *err, size_t errcap)
{
    struct dp d = {bn, o, import_cap, NULL};
    /* UB is convex in lambda. An imported watt-hour is worth at most
     * 1/efficiency of compute (it spares PV a round trip), so the least
     * UB lies below 2/efficiency + 1; golden-section search finds it. */
    double a = 0, b = 2 / o->battery_eff + 1, g = (sqrt(5) - 1) / 2;
    double x1 = b - g * (b - a), x2 = a + g * (b - a), f1 = dual(&d, x1), f2 = dual(&d, x2);
    for (int it = 0; it < 60; it++) {
        if (f1 <= f2) {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a), f1 = dual(&d, x1);
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a), f2 = dual(&d, x2);
        }
    }
    double lambda = f1 <= f2 ? x1 : x2;
    *optimum = fmin(f1, f2);

    /* Where the compute falls (for the months): the maximisers just either
     * side of the price, mixed so that they import exactly the cap. */
    d.v = malloc((size_t)(bn->n + 1) * sizeof *d.v);
    double *other = malloc((size_t)bn->n * sizeof *other);
    if (!d.v || !other) {
        free(d.v), free(other);
        snprintf(err, errcap, "oracle: out of memory");
        return WEFT_ENOMEM;
    }
    double eps = 1e-6 * fmax(lambda, 1);
    dual(&d, fmax(lambda - eps, 0));
    double imp_lo = forward(&d, fmax(lambda - eps, 0), other);
    dual(&d, lambda + eps);
    double imp_hi = forward(&d, lambda + eps, bin_wh);
    double theta = imp_lo - imp_hi > 1e-9 ? (imp_lo - import_cap) / (imp_lo - imp_hi) : 1;
    theta = fmin(fmax(theta, 0), 1);
    double sum = 0;
    for (long k = 0; k < bn->n; k++)
        sum += bin_wh[k] = theta * bin_wh[k] + (1 - theta) * other[k];
    for (long k = 0; k < bn->n && sum > 0; k++) /* to add up to the bound exactly */
        bin_wh[k] *= *optimum / sum;
    free(d.v), free(other);
    return 0;
}

int weft_oracle(const struct weft_profile *p, const struct weft_replay_opts *o, int bin_s,
                enum weft_oracle_method method, struct weft_replay_result *r, char *err,
                size_t errcap)
{
    struct bins bn;
    int rc = bins_make(p, o, bin_s, r, &bn, err, errcap);
    if (rc < 0)
        return rc;
    double *bin_wh = calloc((size_t)bn.n, sizeof *bin_wh), optimum = 0;
    if (bin_wh == NULL) {
        bins_free(&bn);
        snprintf(err, errcap, "oracle: out of memory");
        return WEFT_ENOMEM;
    }
    rc = method == WEFT_ORACLE_LP
             ? solve_lp(&bn, o, r->import_without_wh, &optimum, bin_wh, err, errcap)
             : solve_dp(&bn, o, r->import_without_wh, &optimum, bin_wh, err, errcap);
    if (rc == 0) {
        r->oracle_wh = optimum;
        for (int i = 0; i < r->n_months; i++)
            r->months[i].oracle_wh = 0;
        for (long b = 0; b < bn.n; b++)
            if (bn.month[b] < r->n_months)
                r->months[bn.month[b]].oracle_wh += bin_wh[b];
        shares(r);
    }
    free(bin_wh);
    bins_free(&bn);
    return rc;
}

void weft_replay_set_oracle(struct weft_replay_result *r, const struct weft_replay_result *from)
{
    r->oracle_wh = from->oracle_wh;
    for (int i = 0; i < r->n_months && i < from->n_months; i++)
        r->months[i].oracle_wh = from->months[i].oracle_wh;
    shares(r);
}
