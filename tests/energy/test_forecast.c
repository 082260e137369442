/* The history forecast, the battery plan and the planned policy: figures
 * worked out by hand, and causality (what a replay decides at t does not
 * depend on the profile after t). */
#include <math.h>

#include "harness.h"
#include "weft/clearsky.h"
#include "weft/dayahead.h"
#include "weft/energy_sim.h"
#include "weft/error.h"
#include "weft/forecast.h"

static char err[512];

TEST(forecast_weights_recent_days_and_knows_what_it_lacks)
{
    static struct weft_forecast f;
    weft_forecast_init(&f);
    double pv, load;
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 10 + 3600, &pv, &load), WEFT_ESTALE);
    /* Day 8: 1000 W of PV at 12:00-12:15; day 9: 400 W. Load 300 W both.
     * At 13:00 a busy day 8 (500 W) and a quiet day 9 (200 W). */
    for (int d = 8; d <= 9; d++) {
        for (int s = 0; s < 900; s += 10)
            weft_forecast_observe(&f, (int64_t)d * 86400 + 12 * 3600 + s, d == 8 ? 1000 : 400, 300);
        for (int s = 0; s < 900; s += 10)
            weft_forecast_observe(&f, (int64_t)d * 86400 + 13 * 3600 + s, 0, d == 8 ? 500 : 200);
    }
    weft_forecast_observe(&f, (int64_t)10 * 86400, 0, 300); /* closes day 9's slot */
    ASSERT_EQ_INT(weft_forecast_days(&f), 2);               /* day 10 is still open */
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 10 + 12 * 3600 + 60, &pv, &load), 0);
    /* Yesterday weighs 1, the day before 0.5^(1/3). */
    double k = pow(0.5, 1.0 / 3);
    ASSERT_NEAR(pv, (400 + k * 1000) / (1 + k), 1e-3);
    ASSERT_NEAR(load, 300, 1e-3); /* no spread: the mean */
    /* Load is planned at the weighted mean plus load_sigma (2) weighted
     * standard deviations. */
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 10 + 13 * 3600, &pv, &load), 0);
    double mean = (200 + k * 500) / (1 + k),
           var = (200 * 200 + k * 500 * 500) / (1 + k) - mean * mean;
    ASSERT_NEAR(load, mean + 2 * sqrt(var), 1e-2);
    f.load_sigma = 0;
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 10 + 13 * 3600, &pv, &load), 0);
    ASSERT_NEAR(load, mean, 1e-3);
    /* Tomorrow's 12:00 from today's point of view is the same slot. */
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 11 + 12 * 3600, &pv, &load), 0);
    /* A slot never observed has no forecast. */
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 10, 86400 * 10 + 3 * 3600, &pv, &load), WEFT_ESTALE);
    /* Today's own slots do not forecast today (they are the past). */
    ASSERT_EQ_INT(weft_forecast_at(&f, 86400 * 9, 86400 * 9 + 12 * 3600, &pv, &load), 0);
    ASSERT_NEAR(pv, 1000, 1e-3);
}

/* A forecast from a table: per hour of the day, PV and load. */
struct table {
    double pv[24], load[24];
};

static int from_table(const void *ctx, int64_t now_s, int64_t t, double *pv_w, double *load_w)
{
    (void)now_s;
    const struct table *tb = ctx;
    int h = (int)(t % 86400 / 3600);
    *pv_w = tb->pv[h];
    *load_w = tb->load[h];
    return 0;
}

TEST(headroom_is_what_tomorrows_export_refills)
{
    /* Lossless 10 kWh battery, 5 kW. From midnight: 500 W of load all day,
     * 3 kW of PV from 08:00 to 16:00 (2.5 kW surplus for 8 h = 20 kWh). */
    struct table tb;
    for (int h = 0; h < 24; h++) {
        tb.load[h] = 500;
        tb.pv[h] = h >= 8 && h < 16 ? 3000 : 0;
    }
    struct weft_plan_battery b = {10000, 5000, 5000, 1.0, 0};
    struct weft_plan plan;
    /* At midnight with 6 kWh: the house takes 4 kWh by 08:00, leaving 2;
     * then the battery fills in 3.2 h and exports the other 12 kWh. Compute
     * may take the 2 kWh the morning would have left, less the margin. */
    weft_plan_headroom(from_table, &tb, &b, 6000, 0, 24 * 3600, 500, &plan);
    ASSERT(plan.valid);
    ASSERT_NEAR(plan.low_wh, 2000, 1e-6);
    ASSERT_EQ_INT(plan.low_at_s, 8 * 3600);
    ASSERT_NEAR(plan.headroom_wh, 1500, 1e-6);
    ASSERT_NEAR(plan.export_wh, 20000 - 8000, 1e-6);
    ASSERT(plan.full_at_s > 11 * 3600 && plan.full_at_s <= 12 * 3600);
    /* Without the day's sun in the horizon nothing refills it: no headroom. */
    weft_plan_headroom(from_table, &tb, &b, 6000, 0, 8 * 3600, 0, &plan);
    ASSERT(plan.valid);
    ASSERT_NEAR(plan.headroom_wh, 0, 1e-9);
    /* A cloudy day that never fills the battery refills nothing either. */
    for (int h = 8; h < 16; h++)
        tb.pv[h] = 1000;
    weft_plan_headroom(from_table, &tb, &b, 6000, 0, 24 * 3600, 0, &plan);
    ASSERT_NEAR(plan.headroom_wh, 0, 1e-9);
    /* A full battery in the sun: what it exports is all headroom, up to the
     * battery's energy (it has to carry the deficit until the export). */
    for (int h = 8; h < 16; h++)
        tb.pv[h] = 3000;
    weft_plan_headroom(from_table, &tb, &b, 10000, 9 * 3600, 6 * 3600, 0, &plan);
    ASSERT_NEAR(plan.headroom_wh, 10000, 1e-6);
    /* How long 350 W of compute lasts: in the sun on a full battery, all
     * the horizon on export alone; from 16:00, on the 2 kWh the night
     * leaves above empty before the next day refills it: 2000/350 h. */
    weft_plan_headroom(from_table, &tb, &b, 10000, 9 * 3600, 6 * 3600, 0, &plan);
    ASSERT_EQ_INT(weft_plan_budget_s(from_table, &tb, &b, 10000, 9 * 3600, 6 * 3600, &plan, 350),
                  6 * 3600);
    weft_plan_headroom(from_table, &tb, &b, 10000, 16 * 3600, 24 * 3600, 0, &plan);
    ASSERT_NEAR(plan.headroom_wh, 2000, 1e-6);
    ASSERT_NEAR(weft_plan_budget_s(from_table, &tb, &b, 10000, 16 * 3600, 24 * 3600, &plan, 350),
                2000.0 / 350 * 3600, 1);
    /* No forecast: no plan. */
    static struct weft_forecast empty;
    weft_forecast_init(&empty);
    weft_plan_headroom(weft_forecast_fn_history, &empty, &b, 6000, 0, 3600, 0, &plan);
    ASSERT(!plan.valid);
}

static const char *write_csv(const char *name, const char *text)
{
    return harness_write_file(name, text, strlen(text));
}

/* Twenty days of a made-up home from 2012-01-01, sunny or dull by a fixed
 * sequence; `storm` replaces February's first days with no sun at all. */
static const char *home(int storm)
{
    static char csv[1 << 17];
    size_t o = (size_t)snprintf(csv, sizeof csv, "time,GC,GG\n");
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int d = 0; d < 36; d++)
        for (int hh = 0; hh < 48; hh++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            double sun = hh >= 14 && hh <= 36 ? 1.0 + (double)(x % 600) / 100.0 : 0;
            if (d % 5 == 3 || (storm && d >= 31))
                sun *= 0.1;
            double load = 0.3 + (double)((x >> 24) % 400) / 1000.0;
            o += (size_t)snprintf(csv + o, sizeof csv - o,
                                  "2012-%02d-%02d %02d:%02d:00,%.3f,%.3f\n", d < 31 ? 1 : 2,
                                  d < 31 ? d + 1 : d - 30, hh / 2, hh % 2 ? 30 : 0, load, sun);
        }
    return csv;
}

static void replay(int storm, enum weft_replay_forecast fc, struct weft_replay_result *r)
{
    struct weft_profile p;
    ASSERT_EQ_INT(
        weft_profile_load(write_csv("h.csv", home(storm)), "GC", "GG", 1, &p, err, sizeof err), 0);
    struct weft_replay_opts o = {0};
    weft_policy_defaults(&o.settings);
    o.settings.has_battery = true;
    o.settings.battery_capacity_wh = 10000;
    o.settings.battery_max_w = 5000;
    o.settings.plan = 1;
    o.policy = WEFT_REPLAY_WEFT;
    o.forecast = fc;
    o.poll_s = 30;
    o.battery_wh = 10000;
    o.battery_w = 5000;
    o.battery_eff = 0.9;
    o.battery_start_soc = 50;
    ASSERT_EQ_INT(weft_replay(&p, &o, r), 0);
    weft_profile_free(&p);
}

/* The forecast is causal: a storm in February changes nothing the replay
 * did in January. The same check catches a forecast that looks ahead: fed
 * the true future, January's last day already sees the storm coming. */
TEST(history_forecast_is_causal)
{
    static struct weft_replay_result a, b;
    replay(0, WEFT_REPLAY_FC_HISTORY, &a);
    replay(1, WEFT_REPLAY_FC_HISTORY, &b);
    ASSERT_EQ_INT(a.n_months, 2);
    ASSERT(a.months[0].compute_wh > 0);
    ASSERT_NEAR(a.months[0].compute_wh, b.months[0].compute_wh, 0);
    ASSERT_NEAR(a.months[0].import_with_wh, b.months[0].import_with_wh, 0);
    ASSERT_EQ_INT(a.months[0].switches, b.months[0].switches);
    ASSERT(a.months[1].compute_wh != b.months[1].compute_wh);
    replay(0, WEFT_REPLAY_FC_TRUE, &a);
    replay(1, WEFT_REPLAY_FC_TRUE, &b);
    ASSERT(a.months[0].compute_wh != b.months[0].compute_wh);
}

/* With the true future the plan computes on the battery at night before a
 * sunny day and stays off the grid. */
TEST(plan_with_the_true_future_stays_on_surplus)
{
    static struct weft_replay_result r, off;
    replay(0, WEFT_REPLAY_FC_TRUE, &r);
    replay(0, WEFT_REPLAY_FC_OFF, &off);
    ASSERT(r.compute_from_surplus_share >= 0.99);
    ASSERT(r.compute_wh > off.compute_wh);
}

/* The history survives a restart byte for byte, and a damaged file is
 * refused whole, leaving a fresh forecast. */
TEST(history_is_kept_and_damage_refused)
{
    static struct weft_forecast f, g;
    static unsigned char buf[WEFT_FC_STATE_BYTES];
    weft_forecast_init(&f);
    for (int64_t t = 3 * 86400; t < 6 * 86400; t += 60)
        weft_forecast_observe(&f, t, (double)(t % 86400) / 100, 300 + (double)(t % 7));
    ASSERT_EQ_INT(weft_forecast_days(&f), 3);
    weft_forecast_save(&f, buf);
    weft_forecast_init(&g);
    ASSERT_EQ_INT(weft_forecast_load(&g, buf, sizeof buf), 0);
    ASSERT_EQ_INT(weft_forecast_days(&g), 3);
    ASSERT(memcmp(f.pv, g.pv, sizeof f.pv) == 0 && memcmp(f.load, g.load, sizeof f.load) == 0);
    ASSERT(memcmp(f.seen, g.seen, sizeof f.seen) == 0 && memcmp(f.day, g.day, sizeof f.day) == 0);
    double a, b, c, d;
    ASSERT_EQ_INT(weft_forecast_at(&f, 6 * 86400, 6 * 86400 + 43200, &a, &b), 0);
    ASSERT_EQ_INT(weft_forecast_at(&g, 6 * 86400, 6 * 86400 + 43200, &c, &d), 0);
    ASSERT_NEAR(a, c, 0);
    ASSERT_NEAR(b, d, 0);
    /* Short, wrong version, a negative watt, a day in the wrong place. */
    ASSERT_EQ_INT(weft_forecast_load(&g, buf, sizeof buf - 1), WEFT_EFORMAT);
    ASSERT_EQ_INT(weft_forecast_days(&g), 0);
    buf[7] ^= 1;
    ASSERT_EQ_INT(weft_forecast_load(&g, buf, sizeof buf), WEFT_EFORMAT);
    buf[7] ^= 1;
    float neg = -1;
    unsigned char saved[4];
    memcpy(saved, buf + 16 + 8, 4);
    memcpy(buf + 16 + 8, &neg, 4); /* day 0's first PV (little-endian hosts) */
    ASSERT_EQ_INT(weft_forecast_load(&g, buf, sizeof buf), WEFT_EFORMAT);
    memcpy(buf + 16 + 8, saved, 4);
    buf[16] ^= 1; /* day 0 entry now names an odd day */
    ASSERT_EQ_INT(weft_forecast_load(&g, buf, sizeof buf), WEFT_EFORMAT);
    ASSERT_EQ_INT(weft_forecast_days(&g), 0);
}

/* The clear-sky layer: days that made half their clear sky give a ratio
 * of a half, and the PV forecast follows the clear sky's shape at that
 * ratio where no day-ahead source covers; a day-ahead source wins. */
TEST(clear_sky_layer_scales_by_what_recent_days_made)
{
    static struct weft_clearsky cs;
    static struct weft_forecast f;
    struct weft_site site = {.latitude = 48.1,
                             .longitude = 11.6,
                             .tilt = 30,
                             .azimuth = 0,
                             .kwp = 5,
                             .utc_offset_s = 3600};
    ASSERT_EQ_INT(weft_clearsky_init(&cs, &site), 0);
    weft_forecast_init(&f);
    int64_t day0 = 15500; /* days since 1970: 2012-06-09 */
    for (int64_t t = day0 * 86400; t < (day0 + 3) * 86400; t += 60)
        weft_forecast_observe(&f, t, 0.5 * weft_clearsky_at(&cs, t), 400);
    int64_t now = (day0 + 3) * 86400 + 6 * 3600;
    double ratio = weft_forecast_clear_ratio(&f, &cs, now);
    ASSERT_NEAR(ratio, 0.5, 0.01);
    struct weft_forecast_layers l = {&f, NULL, NULL, &cs, ratio};
    double pv, load;
    int64_t noon = (day0 + 3) * 86400 + 13 * 3600;
    ASSERT_EQ_INT(weft_forecast_fn_layers(&l, now, noon, &pv, &load), 0);
    ASSERT_NEAR(pv, 0.5 * weft_clearsky_at(&cs, noon), 1e-6);
    ASSERT(pv > 1000); /* a June noon in Munich on 5 kWp, at half */
    /* A day-ahead source where it covers. */
    static struct weft_dayahead da;
    da.start_s = noon - noon % 900;
    da.n = 1;
    da.pv_w[0] = 123;
    l.pv = weft_dayahead_fn;
    l.pv_ctx = &da;
    ASSERT_EQ_INT(weft_forecast_fn_layers(&l, now, noon, &pv, &load), 0);
    ASSERT_NEAR(pv, 123, 1e-3);
    ASSERT_EQ_INT(weft_forecast_fn_layers(&l, now, noon + 3600, &pv, &load), 0);
    ASSERT_NEAR(pv, 0.5 * weft_clearsky_at(&cs, noon + 3600), 1e-6);
}
