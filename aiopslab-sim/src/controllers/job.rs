//! The Job controller (completions, parallelism, backoff limit, active deadline, suspend; the
//! `Complete` / `Failed` conditions and counts `kubectl get jobs` shows) and a CronJob
//! controller (standard five-field schedules in UTC, history limits, concurrency policy).

use super::manager::{Ctx, Work};
use super::replicaset::{claim_pods, pod_from_template, ready_since};
use super::util::{self, arr, fmt_time, int, is_deleting, keys, name, owner_ref, parse_time, sd};
use crate::selector::LabelSelector;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};
use serde_json::{Value, json};
use std::sync::Arc;

const COMPONENT: &str = "job-controller";
const TRACKING: &str = "batch.kubernetes.io/job-tracking";

fn has_condition(job: &Value, ty: &str) -> bool {
    arr(job, "/status/conditions")
        .iter()
        .any(|c| sd(c, "/type") == ty && sd(c, "/status") == "True")
}

fn condition(ty: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "lastProbeTime": now, "lastTransitionTime": now,
        "message": message, "reason": reason, "status": "True", "type": ty,
    })
}

/// Reconciles one Job.
pub(crate) fn reconcile(ctx: &mut Ctx, ns: &str, job_name: &str) {
    let Ok(job) = ctx.store.get(&keys::jobs(), ns, job_name) else {
        return;
    };
    let Ok(selector) = LabelSelector::from_object(job.pointer("/spec/selector")) else {
        return;
    };
    let pods = claim_pods(ctx, &job, "batch/v1", "Job", &selector);
    let now = ctx.now();
    let now_str = fmt_time(now);
    // Terminal pods are counted; their tracking finalizer goes.
    for p in &pods {
        if matches!(sd(p, "/status/phase"), "Succeeded" | "Failed")
            && arr(p, "/metadata/finalizers").iter().any(|f| f == TRACKING)
        {
            let _ = ctx.store.modify(&keys::pods(), ns, name(p), |o| {
                if let Some(f) = o
                    .pointer_mut("/metadata/finalizers")
                    .and_then(Value::as_array_mut)
                {
                    f.retain(|x| x != TRACKING);
                }
                Ok(())
            });
        }
    }
    let finished = has_condition(&job, "Complete") || has_condition(&job, "Failed");
    let active: Vec<&Arc<Value>> = pods
        .iter()
        .filter(|p| !is_deleting(p) && !matches!(sd(p, "/status/phase"), "Succeeded" | "Failed"))
        .collect();
    let terminating = pods.iter().filter(|p| is_deleting(p)).count();
    let counted = |phase: &str| {
        pods.iter()
            .filter(|p| sd(p, "/status/phase") == phase)
            .count() as i64
    };
    let succeeded = counted("Succeeded").max(int(&job, "/status/succeeded").unwrap_or(0));
    let failed = counted("Failed").max(int(&job, "/status/failed").unwrap_or(0));
    let ready = active.iter().filter(|p| ready_since(p).is_some()).count();
    let completions = int(&job, "/spec/completions");
    let parallelism = int(&job, "/spec/parallelism").unwrap_or(1).max(0);
    let backoff_limit = int(&job, "/spec/backoffLimit").unwrap_or(6);
    let suspended = job.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let start_time = job
        .pointer("/status/startTime")
        .and_then(|t| parse_time(Some(t)))
        .unwrap_or(now);
    let mut conditions: Vec<Value> = arr(&job, "/status/conditions").to_vec();
    let mut completion_time = job.pointer("/status/completionTime").cloned();
    let mut new_active = active.len();
    if !finished && !is_deleting(&job) {
        let deadline = int(&job, "/spec/activeDeadlineSeconds")
            .and_then(|d| start_time.checked_add(SignedDuration::from_secs(d)).ok());
        let done = match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        };
        let failure = if failed > backoff_limit {
            Some((
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ))
        } else if deadline.is_some_and(|d| d <= now) {
            Some((
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            ))
        } else {
            None
        };
        if done {
            conditions.push(condition(
                "SuccessCriteriaMet",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                &now_str,
            ));
            conditions.push(condition(
                "Complete",
                "CompletionsReached",
                "Reached expected number of succeeded pods",
                &now_str,
            ));
            completion_time = Some(json!(now_str));
            ctx.event(
                &job,
                false,
                "Completed",
                "Job completed",
                COMPONENT,
                None,
                None,
            );
        } else if let Some((reason, message)) = failure {
            for p in &active {
                let _ = ctx.delete_pod(p);
            }
            new_active = 0;
            conditions.push(condition("FailureTarget", reason, message, &now_str));
            conditions.push(condition("Failed", reason, message, &now_str));
            ctx.event(&job, true, reason, message, COMPONENT, None, None);
        } else if suspended {
            for p in &active {
                let _ = ctx.delete_pod(p);
            }
            new_active = 0;
            if !has_condition(&job, "Suspended") {
                conditions.push(condition(
                    "Suspended",
                    "JobSuspended",
                    "Job suspended",
                    &now_str,
                ));
                ctx.event(
                    &job,
                    false,
                    "Suspended",
                    "Job suspended",
                    COMPONENT,
                    None,
                    None,
                );
            }
        } else {
            conditions.retain(|c| sd(c, "/type") != "Suspended");
            let want = match completions {
                Some(c) => parallelism.min(c - succeeded).max(0),
                None if succeeded > 0 => 0,
                None => parallelism,
            } as usize;
            // Failed pods are replaced after the Job back-off (10 s doubling).
            let backoff_until = if failed > 0 {
                let last_failure = pods
                    .iter()
                    .filter(|p| sd(p, "/status/phase") == "Failed")
                    .filter_map(|p| {
                        arr(p, "/status/containerStatuses")
                            .iter()
                            .filter_map(|c| parse_time(c.pointer("/state/terminated/finishedAt")))
                            .max()
                    })
                    .max();
                let delay = (10i64 << (failed - 1).clamp(0, 5)).min(360);
                last_failure.and_then(|t| {
                    t.checked_add(ctx.scaled(SignedDuration::from_secs(delay)))
                        .ok()
                })
            } else {
                None
            };
            if let Some(until) = backoff_until.filter(|u| *u > now) {
                ctx.enqueue_at(Work::Job(ns.to_string(), job_name.to_string()), until);
            } else if new_active < want {
                let template = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
                let missing = want - new_active;
                for _ in 0..missing {
                    let mut pod = pod_from_template(
                        &template,
                        Some(&format!("{job_name}-")),
                        None,
                        owner_ref(&job, "batch/v1", "Job"),
                    );
                    let meta = util::obj_mut(&mut pod, "metadata");
                    meta.insert("finalizers".into(), json!([TRACKING]));
                    let ann = meta.entry("annotations").or_insert_with(|| json!({}));
                    if let Some(a) = ann.as_object_mut() {
                        a.insert(TRACKING.into(), json!(""));
                    }
                    match ctx.create(&keys::pods(), ns, pod) {
                        Ok(created) => {
                            new_active += 1;
                            ctx.event(
                                &job,
                                false,
                                "SuccessfulCreate",
                                &format!("Created pod: {}", name(&created)),
                                COMPONENT,
                                None,
                                None,
                            );
                        }
                        Err(e) => {
                            ctx.event(
                                &job,
                                true,
                                "FailedCreate",
                                &format!("Error creating: {e}"),
                                COMPONENT,
                                None,
                                None,
                            );
                            break;
                        }
                    }
                }
            } else if new_active > want {
                let extra = new_active - want;
                for p in active.iter().rev().take(extra) {
                    let _ = ctx.delete_pod(p);
                }
                new_active = want;
            }
            if let Some(d) = deadline.filter(|d| *d > now) {
                ctx.enqueue_at(Work::Job(ns.to_string(), job_name.to_string()), d);
            }
        }
    }
    let generation = int(&job, "/metadata/generation").unwrap_or(1);
    let _ = generation;
    let _ = ctx.store.modify(&keys::jobs(), ns, job_name, |o| {
        let mut st = json!({
            "startTime": fmt_time(start_time),
            "ready": ready,
            "terminating": terminating,
            "uncountedTerminatedPods": {},
        });
        if suspended && !finished {
            st.as_object_mut().map(|m| m.remove("startTime"));
        }
        if new_active > 0 {
            st["active"] = json!(new_active);
        }
        if succeeded > 0 {
            st["succeeded"] = json!(succeeded);
        }
        if failed > 0 {
            st["failed"] = json!(failed);
        }
        if let Some(t) = &completion_time {
            st["completionTime"] = t.clone();
        }
        if !conditions.is_empty() {
            st["conditions"] = json!(conditions);
        }
        o["status"] = st;
        Ok(())
    });
    // CronJob owners track their jobs.
    if let Some(r) = util::controller_ref(&job)
        && sd(r, "/kind") == "CronJob"
    {
        ctx.enqueue(Work::CronJob(ns.to_string(), sd(r, "/name").to_string()));
    }
}

/// One field of a cron schedule: the allowed values.
fn cron_field(spec: &str, min: u32, max: u32) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let v: u32 = range.parse().ok()?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return None;
        }
        out.extend((lo..=hi).step_by(step as usize));
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// The first time after `after` that matches a five-field schedule (UTC), within a year.
pub(crate) fn next_schedule(schedule: &str, after: Timestamp) -> Option<Timestamp> {
    let schedule = match schedule.trim() {
        "@hourly" => "0 * * * *",
        "@daily" | "@midnight" => "0 0 * * *",
        "@weekly" => "0 0 * * 0",
        "@monthly" => "0 0 1 * *",
        "@yearly" | "@annually" => "0 0 1 1 *",
        other => other,
    };
    let f: Vec<&str> = schedule.split_whitespace().collect();
    if f.len() != 5 {
        return None;
    }
    let minutes = cron_field(f[0], 0, 59)?;
    let hours = cron_field(f[1], 0, 23)?;
    let days = cron_field(f[2], 1, 31)?;
    let months = cron_field(f[3], 1, 12)?;
    let weekdays: Vec<u32> = cron_field(&f[4].replace('7', "0"), 0, 6)?;
    let day_any = f[2] == "*" || f[2] == "?";
    let dow_any = f[4] == "*" || f[4] == "?";
    let start = after.as_second().div_euclid(60) * 60 + 60;
    let mut t = Timestamp::from_second(start).ok()?;
    for _ in 0..(366 * 24 * 60) {
        let z = t.to_zoned(TimeZone::UTC);
        let dom_ok = days.contains(&(z.day() as u32));
        let dow_ok = weekdays.contains(&(z.weekday().to_sunday_zero_offset() as u32));
        let day_ok = match (day_any, dow_any) {
            (true, true) => true,
            (true, false) => dow_ok,
            (false, true) => dom_ok,
            (false, false) => dom_ok || dow_ok,
        };
        if minutes.contains(&(z.minute() as u32))
            && hours.contains(&(z.hour() as u32))
            && months.contains(&(z.month() as u32))
            && day_ok
        {
            return Some(t);
        }
        t = t.checked_add(SignedDuration::from_mins(1)).ok()?;
    }
    None
}

/// Reconciles one CronJob.
pub(crate) fn reconcile_cronjob(ctx: &mut Ctx, ns: &str, cj_name: &str) {
    let Ok(cj) = ctx.store.get(&keys::cronjobs(), ns, cj_name) else {
        return;
    };
    if is_deleting(&cj) {
        return;
    }
    let now = ctx.now();
    let cj_uid = util::uid(&cj).to_string();
    let (jobs, _) = ctx.store.list(&keys::jobs(), Some(ns));
    let mut mine: Vec<Arc<Value>> = jobs
        .into_iter()
        .filter(|j| util::controlled_by(j, &cj_uid))
        .collect();
    mine.sort_by(|a, b| {
        sd(a, "/metadata/creationTimestamp").cmp(sd(b, "/metadata/creationTimestamp"))
    });
    let running: Vec<&Arc<Value>> = mine
        .iter()
        .filter(|j| !has_condition(j, "Complete") && !has_condition(j, "Failed"))
        .collect();
    let schedule = sd(&cj, "/spec/schedule").to_string();
    let suspended = cj.pointer("/spec/suspend").and_then(Value::as_bool) == Some(true);
    let last = cj
        .pointer("/status/lastScheduleTime")
        .and_then(|t| parse_time(Some(t)))
        .or_else(|| parse_time(cj.pointer("/metadata/creationTimestamp")))
        .unwrap_or(now);
    let mut last_schedule = cj.pointer("/status/lastScheduleTime").cloned();
    if !suspended && let Some(due) = next_schedule(&schedule, last) {
        if due <= now {
            let policy = sd(&cj, "/spec/concurrencyPolicy");
            let skip = policy == "Forbid" && !running.is_empty();
            if policy == "Replace" {
                for j in &running {
                    let _ = ctx
                        .store
                        .delete(&keys::jobs(), ns, name(j), None, None, None);
                }
            }
            if !skip {
                let job_name = format!("{cj_name}-{}", due.as_second() / 60);
                let template = cj
                    .pointer("/spec/jobTemplate")
                    .cloned()
                    .unwrap_or(json!({}));
                let mut meta = template.get("metadata").cloned().unwrap_or(json!({}));
                meta["name"] = json!(job_name);
                meta["ownerReferences"] = json!([owner_ref(&cj, "batch/v1", "CronJob")]);
                let ann = util::obj_mut(&mut meta, "annotations");
                ann.insert(
                    "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
                    json!(fmt_time(due)),
                );
                let job = json!({
                    "apiVersion": "batch/v1", "kind": "Job",
                    "metadata": meta,
                    "spec": template.get("spec").cloned().unwrap_or(json!({})),
                });
                match ctx.create(&keys::jobs(), ns, job) {
                    Ok(_) => ctx.event(
                        &cj,
                        false,
                        "SuccessfulCreate",
                        &format!("Created job {job_name}"),
                        "cronjob-controller",
                        None,
                        None,
                    ),
                    Err(e) if e.contains("already exists") => {}
                    Err(e) => ctx.event(
                        &cj,
                        true,
                        "FailedCreate",
                        &format!("Error creating job: {e}"),
                        "cronjob-controller",
                        None,
                        None,
                    ),
                }
            } else {
                ctx.event(&cj, false, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid", "cronjob-controller", None, None);
            }
            last_schedule = Some(json!(fmt_time(due)));
        }
        let from = last_schedule
            .as_ref()
            .and_then(|t| parse_time(Some(t)))
            .unwrap_or(last);
        if let Some(next) = next_schedule(
            &schedule,
            from.max(now.checked_sub(SignedDuration::from_secs(1)).unwrap_or(now)),
        ) {
            ctx.enqueue_at(Work::CronJob(ns.to_string(), cj_name.to_string()), next);
        }
    }
    // History limits.
    let keep_ok = int(&cj, "/spec/successfulJobsHistoryLimit")
        .unwrap_or(3)
        .max(0) as usize;
    let keep_failed = int(&cj, "/spec/failedJobsHistoryLimit").unwrap_or(1).max(0) as usize;
    for (ty, keep) in [("Complete", keep_ok), ("Failed", keep_failed)] {
        let done: Vec<&Arc<Value>> = mine.iter().filter(|j| has_condition(j, ty)).collect();
        if done.len() > keep {
            for j in done.iter().take(done.len() - keep) {
                let _ = ctx
                    .store
                    .delete(&keys::jobs(), ns, name(j), None, None, None);
            }
        }
    }
    let active: Vec<Value> = running
        .iter()
        .map(|j| json!({"apiVersion": "batch/v1", "kind": "Job", "name": name(j), "namespace": ns, "uid": util::uid(j), "resourceVersion": sd(j, "/metadata/resourceVersion")}))
        .collect();
    let last_success = mine
        .iter()
        .filter(|j| has_condition(j, "Complete"))
        .filter_map(|j| j.pointer("/status/completionTime").cloned())
        .next_back();
    let _ = ctx.store.modify(&keys::cronjobs(), ns, cj_name, |o| {
        let mut st = json!({});
        if !active.is_empty() {
            st["active"] = json!(active);
        }
        if let Some(t) = &last_schedule {
            st["lastScheduleTime"] = t.clone();
        }
        if let Some(t) = &last_success {
            st["lastSuccessfulTime"] = t.clone();
        }
        o["status"] = st;
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_schedules() {
        let t: Timestamp = "2026-01-01T00:00:30Z".parse().unwrap();
        assert_eq!(
            next_schedule("*/5 * * * *", t).unwrap().to_string(),
            "2026-01-01T00:05:00Z"
        );
        assert_eq!(
            next_schedule("0 3 * * *", t).unwrap().to_string(),
            "2026-01-01T03:00:00Z"
        );
        assert_eq!(
            next_schedule("@hourly", t).unwrap().to_string(),
            "2026-01-01T01:00:00Z"
        );
        assert!(next_schedule("bad", t).is_none());
        assert!(next_schedule("61 * * * *", t).is_none());
    }
}
