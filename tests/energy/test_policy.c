/* The surplus policy, case by case: hysteresis and delays, reserve and
 * priority SoC, the full-by rule, off-peak and quiet hours, and every way a
 * reading can be missing, stale or implausible, each ending in budget 0
 * with the right reason. */
#include <math.h>

#include "harness.h"
#include "weft/energy.h"

#define S 1000ull /* one second in ms */

struct rig {
    struct weft_policy_settings s;
    struct weft_policy p;
    struct weft_energy_reading r;
    struct weft_policy_out out;
    uint64_t now;
    int minute;
};

static void rig_init(struct rig *g)
{
    weft_policy_defaults(&g->s);
    weft_policy_init(&g->p);
    memset(&g->r, 0, sizeof g->r);
    g->now = 1000 * S;
    g->minute = 12 * 60;
    g->r.pv = (struct weft_quantity){0, g->now};
    g->r.load = (struct weft_quantity){0, g->now};
    g->r.grid = (struct weft_quantity){0, g->now};
    g->r.battery = (struct weft_quantity){0, g->now};
    g->r.soc = (struct weft_quantity){50, g->now};
}

/* Sets the grid reading (fresh), advances time by dt seconds, steps. */
static void step(struct rig *g, double grid_w, int dt_s)
{
    g->now += (uint64_t)dt_s * S;
    g->r.grid = (struct weft_quantity){grid_w, g->now};
    g->r.battery.at_ms = g->now;
    g->r.soc.at_ms = g->now;
    weft_policy_step(&g->p, &g->s, &g->r, g->now, g->minute, &g->out);
}

TEST(starts_only_after_the_enable_delay)
{
    struct rig g;
    rig_init(&g);
    step(&g, -1000, 1); /* 1000 W exported */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STARTING);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    ASSERT_EQ_STR(g.out.reason, "waiting 0 s of 60 s enable delay");
    step(&g, -1000, 45);
    ASSERT_EQ_STR(g.out.reason, "waiting 45 s of 60 s enable delay");
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    step(&g, -1000, 15);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 350, 0); /* 1000 - 50 margin, capped at max */
    ASSERT_EQ_STR(g.out.reason, "running on 350 W");
}

TEST(a_dip_during_the_enable_delay_restarts_it)
{
    struct rig g;
    rig_init(&g);
    step(&g, -1000, 1);
    step(&g, -1000, 50);
    step(&g, 0, 1); /* cloud: surplus gone */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    step(&g, -1000, 1);
    step(&g, -1000, 30);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STARTING);
    ASSERT_EQ_STR(g.out.reason, "waiting 30 s of 60 s enable delay");
}

TEST(passing_clouds_do_not_stop_it_but_a_long_dip_does)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    step(&g, -1000, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    /* Compute draws 350 W; a cloud leaves the house importing 300 W. */
    g.r.compute_w = 350;
    step(&g, 300, 10); /* surplus = -300 + 350 - 50 = 0 < 100 */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    ASSERT_NEAR(g.out.budget_w, 100, 0); /* holds min_run_w */
    ASSERT_EQ_STR(g.out.reason, "surplus gone; holding 100 W, 0 s of 120 s disable delay");
    step(&g, 300, 60);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    step(&g, -500, 10); /* sun back */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    step(&g, 300, 10);
    step(&g, 300, 119);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    step(&g, 300, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
}

TEST(compute_draw_counts_towards_its_own_surplus)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    step(&g, -400, 1);
    ASSERT_NEAR(g.out.budget_w, 350, 0);
    /* Running at 300 W, the meter now shows only 100 W export: the budget
     * must not collapse because compute uses the surplus. */
    g.r.compute_w = 300;
    step(&g, -100, 10);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 350, 0); /* 100 + 300 - 50 */
    step(&g, 100, 10);                   /* importing 100 with compute at 300 */
    ASSERT_NEAR(g.out.budget_w, 150, 0); /* -100 + 300 - 50 */
}

TEST(battery_charges_first_below_priority_soc)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.has_battery = true;
    g.s.battery_capacity_wh = 0; /* unknown: only the priority rule */
    g.r.battery.w = 1500;        /* absorbing all the PV surplus */
    g.r.soc.w = 60;
    step(&g, 0, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "battery charging first");
    g.r.soc.w = 96; /* above priority 95: its charging may be redirected */
    step(&g, 0, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 350, 0);
}

TEST(charging_beyond_what_fills_the_battery_by_full_by_is_surplus)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.has_battery = true;
    g.s.battery_capacity_wh = 10000;
    g.s.full_by_min = 15 * 60;
    g.s.charge_margin = 1.0;
    g.minute = 9 * 60;    /* 6 h to go */
    g.r.soc.w = 50;       /* 5000 Wh of room: it needs 833 W */
    g.r.battery.w = 1000; /* 167 W more than it needs */
    step(&g, 0, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 1000 - 5000.0 / 6 - 50, 1e-6);
    g.r.battery.w = 800; /* less than it needs: battery first */
    step(&g, 0, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    g.minute = 16 * 60; /* past full_by: only the priority rule applies */
    g.r.battery.w = 3000;
    step(&g, 0, 200);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "battery charging first");
}

TEST(battery_discharge_is_not_surplus_and_reserve_is_kept)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.has_battery = true;
    g.r.battery.w = -800; /* covering the house */
    step(&g, -500, 1);    /* exporting 500 only thanks to the battery */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    /* The homeowner allows 300 W from the battery above a 30 % reserve. */
    g.s.max_battery_discharge_w = 300;
    g.r.battery.w = 0;
    g.r.soc.w = 50;
    step(&g, 0, 1); /* no surplus at all: -50 + 300 */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 250, 0);
    g.r.soc.w = 30;
    step(&g, 0, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    step(&g, 0, 120);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "battery at or below reserve");
}

TEST(offpeak_window_allows_grid_power_up_to_its_cap)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.n_offpeak = 1;
    g.s.offpeak[0] = (struct weft_window){23 * 60, 7 * 60, 500};
    g.minute = 2 * 60;
    step(&g, 200, 1); /* night, importing 200 W for the house */
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, -200 - 50 + 500, 0);
    g.minute = 7 * 60; /* window closed (end is exclusive) */
    step(&g, 200, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_STOPPING);
    step(&g, 200, 120);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
}

TEST(quiet_hours_stop_at_once)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.n_quiet = 1;
    g.s.quiet[0] = (struct weft_window){22 * 60, 6 * 60, 0};
    g.minute = 21 * 60 + 59;
    step(&g, -2000, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    g.minute = 22 * 60;
    step(&g, -2000, 60);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF); /* no disable delay */
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_QUIET);
    ASSERT_EQ_STR(g.out.reason, "quiet hours until 06:00");
}

TEST(stale_grid_meter_fails_safe_and_is_reported_once)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    step(&g, -1000, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    /* The meter stops answering: the reading keeps its old stamp. */
    g.now += 16 * S;
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_GRID_STALE);
    ASSERT_EQ_STR(g.out.reason, "grid meter stale for 16 s");
    ASSERT_EQ_INT(g.out.cause_changed, 1);
    g.now += 5 * S;
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_EQ_STR(g.out.reason, "grid meter stale for 21 s");
    ASSERT_EQ_INT(g.out.cause_changed, 0); /* log once */
    step(&g, -1000, 1);                    /* back: starts over (delay 0) */
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_NONE);
    ASSERT_EQ_INT(g.out.cause_changed, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
}

TEST(within_the_stale_timeout_a_reading_still_counts)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    step(&g, -1000, 1);
    g.now += 15 * S;
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
}

TEST(missing_grid_reading_fails_safe)
{
    struct rig g;
    rig_init(&g);
    g.r.grid = (struct weft_quantity){NAN, 0};
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_GRID_MISSING);
    ASSERT_EQ_STR(g.out.reason, "grid meter reading missing");
}

TEST(failed_battery_read_must_not_inflate_surplus)
{
    /* The hazard in evcc: a failed battery read counted as 0 W. Here the
     * battery is discharging 2 kW (so the "export" is battery energy), and
     * its read fails: the budget must be 0, not 350. */
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.s.has_battery = true;
    step(&g, -1500, 1);
    g.r.battery = (struct weft_quantity){NAN, 0};
    g.now += S;
    g.r.grid = (struct weft_quantity){-1500, g.now};
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_BATTERY_MISSING);
    ASSERT_EQ_STR(g.out.reason, "battery power reading missing");
}

TEST(implausible_readings_fail_safe)
{
    struct rig g;
    rig_init(&g);
    g.s.has_battery = true;
    g.r.soc.w = 150;
    step(&g, -1000, 1);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_IMPLAUSIBLE);
    ASSERT_EQ_STR(g.out.reason, "battery state of charge reading 150 is implausible");
    g.r.soc.w = 50;
    step(&g, -5e6, 1);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_IMPLAUSIBLE);
    ASSERT_EQ_STR(g.out.reason, "grid meter reading -5000000 is implausible");
    ASSERT_NEAR(g.out.budget_w, 0, 0);
}

TEST(without_a_battery_its_readings_are_not_needed)
{
    struct rig g;
    rig_init(&g);
    g.s.enable_delay_s = 0;
    g.r.battery = (struct weft_quantity){NAN, 0};
    g.r.soc = (struct weft_quantity){NAN, 0};
    step(&g, -1000, 1);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
}

TEST(windows_wrap_midnight)
{
    struct weft_window w = {22 * 60, 6 * 60, 0};
    ASSERT(weft_window_contains(&w, 23 * 60));
    ASSERT(weft_window_contains(&w, 0));
    ASSERT(weft_window_contains(&w, 5 * 60 + 59));
    ASSERT(!weft_window_contains(&w, 6 * 60));
    ASSERT(!weft_window_contains(&w, 12 * 60));
    struct weft_window d = {9 * 60, 17 * 60, 0};
    ASSERT(weft_window_contains(&d, 9 * 60));
    ASSERT(!weft_window_contains(&d, 17 * 60));
    ASSERT(!weft_window_contains(&d, 8 * 60));
}

/* With a battery plan (issue 16): at night, headroom runs compute on the
 * battery at the rate that spends it by the next plan; without headroom
 * only export beyond what the battery takes counts; the reserve and the
 * fail-safe guards still come first. */
TEST(a_plan_with_headroom_runs_compute_on_the_battery)
{
    struct rig g;
    rig_init(&g);
    g.s.has_battery = true;
    g.s.plan = 1;
    g.s.battery_max_w = 3000;
    g.s.enable_delay_s = 0;
    g.minute = 23 * 60;
    struct weft_plan_input plan = {.valid = 1, .draw_wh = 25, .for_s = 300}; /* 300 W */
    g.r.battery.w = -400; /* the house draws 400 W from the battery, grid 0 */
    g.now += S;
    g.r.grid.at_ms = g.r.battery.at_ms = g.r.soc.at_ms = g.now;
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    ASSERT_NEAR(g.out.budget_w, 300 - 50, 1e-9); /* less the safety margin */
    /* More headroom than the GPU can use: max_compute_w. */
    plan.draw_wh = 1000;
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_NEAR(g.out.budget_w, 350, 1e-9);
    /* The same without the plan: the battery is not surplus. */
    weft_policy_step(&g.p, &g.s, &g.r, g.now, g.minute, &g.out);
    ASSERT_NEAR(g.out.budget_w, g.s.min_run_w, 1e-9); /* stopping: holds min_run_w */
    /* At the reserve the plan gives nothing. */
    weft_policy_init(&g.p);
    g.r.soc.w = g.s.reserve_soc;
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "battery at or below reserve");
    /* In the sun, not full and without headroom: only what is beyond the
     * battery's 3 kW is free. 4 kW of PV over the house: 3 kW charging,
     * 1 kW exported. */
    g.r.soc.w = 60;
    g.r.battery.w = 3000;
    g.r.grid.w = -1000;
    plan.draw_wh = 0;
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_NEAR(g.out.budget_w, 350, 1e-9);
    g.r.battery.w = 2800; /* 2.8 kW: all of it goes into the battery */
    g.r.grid.w = 0;
    weft_policy_init(&g.p);
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "the plan keeps the battery for the house");
    /* Just above the reserve the battery is no longer offered: at 350 W the
     * 120 s disable delay would take 1.2 % of a 1 kWh battery, so 0.5 %
     * above the reserve compute winds down now and is off when it is
     * reached. */
    g.s.battery_capacity_wh = 1000;
    g.r.soc.w = g.s.reserve_soc + 0.5;
    g.r.battery.w = -400;
    g.r.grid.w = 0;
    g.r.compute_w = 350;
    plan.draw_wh = 1000;
    weft_policy_init(&g.p);
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_OFF);
    ASSERT_CONTAINS(g.out.reason, "battery nearly at reserve");
    g.r.soc.w = g.s.reserve_soc + 2; /* more than the delay takes: still offered */
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.state, WEFT_POLICY_ON);
    g.r.compute_w = 0;
    /* A stale meter is still budget 0 at once, plan or not. */
    plan.draw_wh = 1000;
    g.now += 60 * S;
    weft_policy_step_plan(&g.p, &g.s, &g.r, &plan, g.now, g.minute, &g.out);
    ASSERT_EQ_INT(g.out.cause, WEFT_CAUSE_GRID_STALE);
    ASSERT_NEAR(g.out.budget_w, 0, 0);
}
