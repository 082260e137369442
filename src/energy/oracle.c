/* The replay's oracle: the most compute energy a controller that knew the
 * whole future could have run without importing more than the home did
 * without compute, as a linear program solved by GLPK.
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
 * bins' netting (tests/energy/test_sim.c).
 */
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

int weft_oracle(const struct weft_profile *p, const struct weft_replay_opts *o, int bin_s,
                struct weft_replay_result *r, char *err, size_t errcap)
{
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
    double *net = calloc((size_t)nb, sizeof *net), *hours = calloc((size_t)nb, sizeof *hours);
    int *month = calloc((size_t)nb, sizeof *month);
    if (!net || !hours || !month) {
        free(net), free(hours), free(month);
        snprintf(err, errcap, "oracle: out of memory");
        return WEFT_ENOMEM;
    }
    /* The same samples the simulator steps through. */
    for (long i = 0; i < steps; i++) {
        double t = (double)i * dt, load, pv;
        weft_profile_at(p, t, &load, &pv);
        net[i / per] += pv - load;
        hours[i / per] += dt / 3600.0;
    }
    for (long b = 0; b < nb; b++) {
        net[b] /= hours[b] * 3600.0 / dt;
        month[b] = month_index(r, p->start_s + (int64_t)((double)b * bin_s));
    }

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
        free(ia), free(ja), free(ar), free(net), free(hours), free(month);
        glp_delete_prob(lp);
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
    glp_set_row_bnds(lp, cap_row, GLP_UP, 0, r->import_without_wh);
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
        free(net), free(hours), free(month);
        return WEFT_EINVAL;
    }
    r->oracle_wh = glp_get_obj_val(lp);
    for (int i = 0; i < r->n_months; i++)
        r->months[i].oracle_wh = 0;
    for (long b = 0; b < nb; b++)
        if (month[b] < r->n_months)
            r->months[month[b]].oracle_wh += hours[b] * glp_get_col_prim(lp, COL(b, C));
    shares(r);
#undef COL
    glp_delete_prob(lp);
    glp_term_hook(NULL, NULL);
    free(net), free(hours), free(month);
    return 0;
}

void weft_replay_set_oracle(struct weft_replay_result *r, const struct weft_replay_result *from)
{
    r->oracle_wh = from->oracle_wh;
    for (int i = 0; i < r->n_months && i < from->n_months; i++)
        r->months[i].oracle_wh = from->months[i].oracle_wh;
    shares(r);
}
