//! Printers for `batch/v1`: Job (with the STATUS column of 1.31+) and CronJob.

use super::apps::container_columns;
use super::descriptions as d;
use super::duration::{human_duration, since, time_of};
use super::json::{
    arr_at, at, bool_ptr_text, created, format_label_selector, int_at, int_cell, is_deleting,
    layout_containers, name, opt_bool, opt_int, opt_str, str_at, template_containers,
};
use super::{Column, ColumnsFn, Printer, Row, RowFn};
use jiff::Timestamp;
use serde_json::{Value, json};

/// The printer for a `batch` kind.
pub(super) fn printer(group: &str, kind: &str) -> Option<Printer> {
    if group != "batch" {
        return None;
    }
    let (columns, row): (ColumnsFn, RowFn) = match kind {
        "Job" => (job_columns, job_row),
        "CronJob" => (cronjob_columns, cronjob_row),
        _ => return None,
    };
    Some(Printer { columns, row })
}

fn job_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Status", "string", "Status of the job."),
        Column::new("Completions", "string", d::JOB_SUCCEEDED),
        Column::new("Duration", "string", "Time required to complete the job."),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols.push(Column::new("Selector", "string", d::JOB_SELECTOR).wide());
    cols
}

/// Whether the job's condition of `ty` is present; its status decides (first match wins).
fn job_condition(job: &Value, ty: &str) -> bool {
    arr_at(job, &["status", "conditions"])
        .iter()
        .find(|c| str_at(c, &["type"]) == ty)
        .is_some_and(|c| str_at(c, &["status"]) == "True")
}

fn job_status(job: &Value) -> &'static str {
    if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if is_deleting(job) {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    }
}

fn job_row(job: &Value, now: Timestamp) -> Row {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions = match opt_int(job, &["spec", "completions"]) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = opt_int(job, &["spec", "parallelism"]).unwrap_or(0);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = time_of(at(job, &["status", "startTime"]));
    let completion = time_of(at(job, &["status", "completionTime"]));
    let duration = match (start, completion) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration(now.duration_since(s)),
        (Some(s), Some(c)) => human_duration(c.duration_since(s)),
    };
    let (names, images) = layout_containers(template_containers(job));
    Row::new(vec![
        json!(name(job)),
        json!(job_status(job)),
        json!(completions),
        json!(duration),
        json!(since(now, created(job))),
        json!(names),
        json!(images),
        json!(format_label_selector(at(job, &["spec", "selector"]))),
    ])
}

fn cronjob_columns() -> Vec<Column> {
    let mut cols = vec![
        Column::name(),
        Column::new("Schedule", "string", d::CRONJOB_SCHEDULE),
        Column::new("Timezone", "string", d::CRONJOB_TIMEZONE),
        Column::new("Suspend", "boolean", d::CRONJOB_SUSPEND),
        Column::new("Active", "integer", d::CRONJOB_ACTIVE),
        Column::new("Last Schedule", "string", d::CRONJOB_LAST_SCHEDULE),
        Column::age(),
    ];
    cols.extend(container_columns());
    cols.push(Column::new("Selector", "string", d::JOB_SELECTOR).wide());
    cols
}

fn cronjob_row(cj: &Value, now: Timestamp) -> Row {
    let last_schedule = match at(cj, &["status", "lastScheduleTime"]).filter(|v| !v.is_null()) {
        Some(t) => since(now, Some(t)),
        None => "<none>".to_string(),
    };
    let (names, images) = layout_containers(arr_at(
        cj,
        &[
            "spec",
            "jobTemplate",
            "spec",
            "template",
            "spec",
            "containers",
        ],
    ));
    Row::new(vec![
        json!(name(cj)),
        json!(str_at(cj, &["spec", "schedule"])),
        json!(opt_str(cj, &["spec", "timeZone"]).unwrap_or("<none>")),
        json!(bool_ptr_text(opt_bool(cj, &["spec", "suspend"]))),
        int_cell(arr_at(cj, &["status", "active"]).len() as i64),
        json!(last_schedule),
        json!(since(now, created(cj))),
        json!(names),
        json!(images),
        json!(format_label_selector(at(
            cj,
            &["spec", "jobTemplate", "spec", "selector"]
        ))),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use serde_json::{Value, json};

    fn job(spec: Value, status: Value) -> Value {
        let mut spec = spec;
        spec["template"] = json!({"spec": {"containers": [{"name": "wrk2", "image": "deathstarbench/wrk2-client"}]}});
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}});
        json!({"metadata": {"name": "wrk2-job", "creationTimestamp": ago(400)},
               "spec": spec, "status": status})
    }

    #[test]
    fn job_columns_include_status() {
        assert_eq!(
            column_names("batch", "Job"),
            [
                "Name",
                "Status",
                "Completions",
                "Duration",
                "Age",
                "Containers*",
                "Images*",
                "Selector*"
            ]
        );
    }

    #[test]
    fn jobs_table() {
        assert_cells(
            "batch",
            "Job",
            job(
                json!({"completions": 1, "parallelism": 1}),
                json!({"startTime": ago(398), "active": 1}),
            ),
            json!([
                "wrk2-job",
                "Running",
                "0/1",
                "6m38s",
                "6m40s",
                "wrk2",
                "deathstarbench/wrk2-client",
                "batch.kubernetes.io/controller-uid=abc"
            ]),
        );
        let cases = [
            (
                json!({"completions": 1}),
                json!({"startTime": ago(398), "completionTime": ago(330), "succeeded": 1,
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                      {"type": "Complete", "status": "True"}]}),
                ("Complete", "1/1", "68s"),
            ),
            (
                json!({"completions": 3}),
                json!({"startTime": ago(398), "failed": 4,
                       "conditions": [{"type": "FailureTarget", "status": "True"},
                                      {"type": "Failed", "status": "True"}]}),
                ("Failed", "0/3", "6m38s"),
            ),
            (
                json!({"parallelism": 4}),
                json!({"succeeded": 2, "conditions": [{"type": "FailureTarget", "status": "True"}]}),
                ("FailureTarget", "2/1 of 4", ""),
            ),
            (
                json!({"completions": 2, "suspend": true}),
                json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
                ("Suspended", "0/2", ""),
            ),
            (
                json!({}),
                json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                ("Running", "0/1", ""),
            ),
        ];
        for (spec, status, (st, completions, duration)) in cases {
            let c = cells("batch", "Job", job(spec, status));
            assert_eq!(
                (
                    c[1].as_str().unwrap(),
                    c[2].as_str().unwrap(),
                    c[3].as_str().unwrap()
                ),
                (st, completions, duration)
            );
        }
        let mut deleting = job(json!({"completions": 1}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(cells("batch", "Job", deleting)[1], "Terminating");
    }

    #[test]
    fn cronjobs_table() {
        assert_eq!(
            column_names("batch", "CronJob"),
            [
                "Name",
                "Schedule",
                "Timezone",
                "Suspend",
                "Active",
                "Last Schedule",
                "Age",
                "Containers*",
                "Images*",
                "Selector*"
            ]
        );
        let cj = json!({
            "metadata": {"name": "backup", "creationTimestamp": ago(86400 * 2)},
            "spec": {"schedule": "*/5 * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "backup-1"}], "lastScheduleTime": ago(120)}
        });
        assert_cells(
            "batch",
            "CronJob",
            cj,
            json!([
                "backup",
                "*/5 * * * *",
                "<none>",
                "False",
                1,
                "2m",
                "2d",
                "b",
                "busybox",
                "<none>"
            ]),
        );
        let never = json!({"metadata": {"name": "n"}, "spec": {"schedule": "@daily", "timeZone": "Etc/UTC"}});
        let c = cells("batch", "CronJob", never);
        assert_eq!(c[2], "Etc/UTC");
        assert_eq!(c[3], "<unset>");
        assert_eq!(c[5], "<none>");
        assert_eq!(c[6], "<unknown>");
    }
}
