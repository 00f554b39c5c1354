//! bdevperf v24.09's console text, byte for byte (`\r` included), as
//! functions returning `String`s; plus our own line, marked as ours.
//!
//! The per-second line is bdevperf's summarised mode: no newline, a `\r`
//! after each, so a terminal rewrites one line. The table that follows
//! starts with a `\n` to end that line.

use super::stats::JobResult;

/// Width of the table's `=` rule.
pub const SEPARATOR_LEN: usize = 115;

/// "Running I/O for N seconds...".
pub fn format_running(time_in_sec: u64) -> String {
    format!("Running I/O for {time_in_sec} seconds...\n")
}

/// The once-a-second summary: all jobs' IOPS and MiB/s added up.
pub fn format_summary_line(iops: f64, mibps: f64) -> String {
    format!("{iops:12.2} IOPS, {mibps:8.2} MiB/s\r")
}

/// bdevperf's notice when a run is stopped from outside.
pub fn format_shutdown(test_time_s: f64) -> String {
    format!("Received shutdown signal, test time was about {test_time_s:.6} seconds\n")
}

/// The "Latency(us)" title and the column header.
pub fn format_table_header() -> String {
    format!(
        "\n{:>107}\n\r {:<28}: {:>10} {:>10} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10}\n",
        "Latency(us)",
        "Device Information",
        "runtime(s)",
        "IOPS",
        "MiB/s",
        "Fail/s",
        "TO/s",
        "Average",
        "min",
        "max"
    )
}

/// The numbers of one job row.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRow {
    pub name: String,
    /// Seconds, as bdevperf prints them (see `JobResult::runtime_s_console`).
    pub runtime_s: f64,
    pub iops: f64,
    pub mibps: f64,
    pub fail_per_s: f64,
    pub timeout_per_s: f64,
    pub avg_latency_us: f64,
    pub min_latency_us: f64,
    pub max_latency_us: f64,
}

impl From<&JobResult> for JobRow {
    fn from(r: &JobResult) -> Self {
        JobRow {
            name: r.job.clone(),
            runtime_s: r.runtime_s_console(),
            iops: r.iops(),
            mibps: r.mibps(),
            fail_per_s: r.failed_per_second(),
            timeout_per_s: r.timeout_per_second(),
            avg_latency_us: r.avg_latency_us(),
            min_latency_us: r.min_latency_us(),
            max_latency_us: r.max_latency_us(),
        }
    }
}

/// The numbers of the Total row (no runtime column).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TotalRow {
    pub iops: f64,
    pub mibps: f64,
    pub fail_per_s: f64,
    pub timeout_per_s: f64,
    pub avg_latency_us: f64,
    pub min_latency_us: f64,
    pub max_latency_us: f64,
}

/// Sums over jobs the way bdevperf's total does: rates add up, the average
/// is all latency over all I/O, min and max are over all jobs. (bdevperf
/// v24.09 prints a Total min of 0.00 on every `perform_tests` after the
/// first, because it resets its totals to zero instead of "no minimum";
/// that bug is not reproduced.)
pub fn total_row(results: &[JobResult]) -> TotalRow {
    let mut t = TotalRow::default();
    let mut lat_sum = 0u128;
    let mut n = 0u64;
    let mut min: Option<f64> = None;
    for r in results {
        t.iops += r.iops();
        t.mibps += r.mibps();
        t.fail_per_s += r.failed_per_second();
        t.timeout_per_s += r.timeout_per_second();
        lat_sum += r.latency.sum();
        n += r.io_completed + r.io_failed;
        if r.latency.count() > 0 {
            let m = r.min_latency_us();
            min = Some(min.map_or(m, |x: f64| x.min(m)));
        }
        t.max_latency_us = t.max_latency_us.max(r.max_latency_us());
    }
    if n > 0 {
        t.avg_latency_us = lat_sum as f64 / n as f64 / 1000.0;
    }
    t.min_latency_us = min.unwrap_or(0.0);
    t
}

/// "Job: NAME (Core Mask 0x.., workload: .., [percentage: .., ]depth: .., IO size: ..)".
pub fn format_job_header(r: &JobResult) -> String {
    if r.workload.is_mixed() {
        format!(
            "Job: {} (Core Mask 0x{:x}, workload: {}, percentage: {}, depth: {}, IO size: {})\n",
            r.job, r.core_mask, r.workload, r.rw_percentage, r.queue_depth, r.io_size
        )
    } else {
        format!(
            "Job: {} (Core Mask 0x{:x}, workload: {}, depth: {}, IO size: {})\n",
            r.job, r.core_mask, r.workload, r.queue_depth, r.io_size
        )
    }
}

/// "Job: NAME ended in about N.NN seconds with error".
pub fn format_job_error(name: &str, run_time_s: f64) -> String {
    format!("Job: {name} ended in about {run_time_s:.2} seconds with error\n")
}

/// "\t Verification LBA range: start 0x.. length 0x..".
pub fn format_verify_range(start: u64, length: u64) -> String {
    format!("\t Verification LBA range: start 0x{start:x} length 0x{length:x}\n")
}

pub fn format_job_row(row: &JobRow) -> String {
    format!(
        "\t {:<20}: {:10.2} {:10.2} {:10.2} {:10.2} {:8.2} {:10.2} {:10.2} {:10.2}\n",
        row.name,
        row.runtime_s,
        row.iops,
        row.mibps,
        row.fail_per_s,
        row.timeout_per_s,
        row.avg_latency_us,
        row.min_latency_us,
        row.max_latency_us
    )
}

pub fn format_separator() -> String {
    format!("\r {}\n", "=".repeat(SEPARATOR_LEN))
}

pub fn format_total_row(t: &TotalRow) -> String {
    format!(
        "\r {:<28}: {:>10} {:10.2} {:10.2} {:10.2} {:8.2} {:10.2} {:10.2} {:10.2}\n",
        "Total",
        "",
        t.iops,
        t.mibps,
        t.fail_per_s,
        t.timeout_per_s,
        t.avg_latency_us,
        t.min_latency_us,
        t.max_latency_us
    )
}

/// One job's lines in the final table.
pub fn format_job(r: &JobResult) -> String {
    let mut s = format_job_header(r);
    if r.ended_with_error() {
        s.push_str(&format_job_error(&r.job, r.runtime_s()));
    }
    if let Some((start, length)) = r.verify_range {
        s.push_str(&format_verify_range(start, length));
    }
    s.push_str(&format_job_row(&JobRow::from(r)));
    s
}

/// bdevperf's final table: title, header, each job, the rule, Total.
pub fn format_table(results: &[JobResult]) -> String {
    let mut s = format_table_header();
    for r in results {
        s.push_str(&format_job(r));
    }
    s.push_str(&format_separator());
    s.push_str(&format_total_row(&total_row(results)));
    s
}

/// Our addition, printed after bdevperf's table: latency percentiles and
/// verify miscompares per job. Marked "[mpath-console]" so nobody mistakes
/// it for bdevperf output.
pub fn format_extra_line(r: &JobResult) -> String {
    format!(
        "[mpath-console] {}: latency(us) p50 {:.2}, p99 {:.2}, p99.9 {:.2}; io_miscompared {}\n",
        r.job,
        r.percentile_us(50.0),
        r.percentile_us(99.0),
        r.percentile_us(99.9),
        r.io_miscompared
    )
}

/// bdevperf's table followed by our lines.
pub fn format_report(results: &[JobResult]) -> String {
    let mut s = format_table(results);
    for r in results {
        s.push_str(&format_extra_line(r));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::perf::config::Workload;
    use crate::perf::histogram::LatencyHistogram;
    use crate::perf::stats::{JobStatus, OpLatency};

    /// Lines copied from `logs/rpc-run/bdevperf.log` (first run, golden 27).
    const GOLDEN_TITLE: &str = "\n                                                                                                Latency(us)\n";
    const GOLDEN_HEADER: &str = "\r Device Information          : runtime(s)       IOPS      MiB/s     Fail/s     TO/s    Average        min        max\n";
    const GOLDEN_JOB: &str =
        "Job: Nvme0n1 (Core Mask 0x2, workload: verify, depth: 128, IO size: 4096)\n";
    const GOLDEN_RANGE: &str = "\t Verification LBA range: start 0x0 length 0x4000\n";
    const GOLDEN_ROW: &str = "\t Nvme0n1             :       3.00  276929.78    1081.76       0.00     0.00     461.49      65.77    8822.15\n";
    const GOLDEN_RULE: &str = "\r ===================================================================================================================\n";
    const GOLDEN_TOTAL: &str = "\r Total                       :             276929.78    1081.76       0.00     0.00     461.49      65.77    8822.15\n";

    fn golden27_row() -> JobRow {
        // The numbers of golden 27's JSON result.
        JobRow {
            name: "Nvme0n1".into(),
            runtime_s: 3.000266,
            iops: 276929.77889293816,
            mibps: 1081.7569488005397,
            fail_per_s: 0.0,
            timeout_per_s: 0.0,
            avg_latency_us: 461.49112317785614,
            min_latency_us: 65.77230769230769,
            max_latency_us: 8822.153846153846,
        }
    }

    fn result(workload: Workload) -> JobResult {
        JobResult {
            job: "Nvme0n1".into(),
            core_mask: 2,
            workload,
            rw_percentage: 70,
            status: JobStatus::Finished,
            verify_range: workload.is_verify().then_some((0, 0x4000)),
            queue_depth: 128,
            io_size: 4096,
            run_time_us: 3_000_266,
            io_completed: 830_863,
            io_failed: 0,
            io_timeout: 0,
            io_miscompared: 0,
            bytes: 830_863 * 4096,
            latency: LatencyHistogram::new(),
            verify_write_latency: OpLatency::default(),
            verify_read_latency: OpLatency::default(),
            miscompares: vec![],
            events: vec![],
            last_generation: 0,
            error: None,
        }
    }

    #[test]
    fn table_lines_match_the_golden_log() {
        assert_eq!(
            format_table_header(),
            format!("{GOLDEN_TITLE}{GOLDEN_HEADER}")
        );
        assert_eq!(format_job_row(&golden27_row()), GOLDEN_ROW);
        assert_eq!(format_separator(), GOLDEN_RULE);
        let r = golden27_row();
        let total = TotalRow {
            iops: r.iops,
            mibps: r.mibps,
            fail_per_s: 0.0,
            timeout_per_s: 0.0,
            avg_latency_us: r.avg_latency_us,
            min_latency_us: r.min_latency_us,
            max_latency_us: r.max_latency_us,
        };
        assert_eq!(format_total_row(&total), GOLDEN_TOTAL);
        assert_eq!(format_verify_range(0, 0x4000), GOLDEN_RANGE);
        assert_eq!(format_job_header(&result(Workload::Verify)), GOLDEN_JOB);
    }

    #[test]
    fn summary_lines_match_the_golden_log() {
        // "   331670.00 IOPS,  1295.59 MiB/s\r   258205.50 IOPS,  1008.62 MiB/s\r"
        let mib = |iops: f64| iops * 4096.0 / (1024.0 * 1024.0);
        let mut s = format_summary_line(331670.0, mib(331670.0));
        s.push_str(&format_summary_line(258205.5, mib(258205.5)));
        assert_eq!(
            s,
            "   331670.00 IOPS,  1295.59 MiB/s\r   258205.50 IOPS,  1008.62 MiB/s\r"
        );
        // The q4 pcap runs: "      500.00 IOPS,     1.95 MiB/s\r"
        assert_eq!(
            format_summary_line(500.0, mib(500.0)),
            "      500.00 IOPS,     1.95 MiB/s\r"
        );
        assert_eq!(format_running(3), "Running I/O for 3 seconds...\n");
        assert_eq!(
            format_shutdown(2.0),
            "Received shutdown signal, test time was about 2.000000 seconds\n"
        );
    }

    #[test]
    fn job_result_figures_reproduce_golden_27() {
        // 830863 verify pairs in 3000266 us: bdevperf's IOPS and MiB/s
        // formulas give exactly golden 27's doubles.
        let r = result(Workload::Verify);
        assert_eq!(r.iops(), 276929.77889293816);
        assert_eq!(r.mibps(), 1081.7569488005397);
        assert_eq!(r.runtime_s(), 3.000266);
        let row = JobRow::from(&r);
        let mut golden = golden27_row();
        golden.avg_latency_us = 0.0;
        golden.min_latency_us = 0.0;
        golden.max_latency_us = 0.0;
        golden.runtime_s = row.runtime_s;
        assert_eq!(row, golden);
        assert_eq!(
            format_job_row(&row),
            "\t Nvme0n1             :       3.00  276929.78    1081.76       0.00     0.00       0.00       0.00       0.00\n"
        );
    }

    #[test]
    fn mixed_workload_header_and_error_line() {
        let mut r = result(Workload::RandRw);
        assert_eq!(
            format_job_header(&r),
            "Job: Nvme0n1 (Core Mask 0x2, workload: randrw, percentage: 70, depth: 128, IO size: 4096)\n"
        );
        r.status = JobStatus::Failed;
        r.run_time_us = 1_234_567;
        let s = format_job(&r);
        assert!(s.contains("Job: Nvme0n1 ended in about 1.23 seconds with error\n"));
        assert!(!s.contains("Verification"));
    }

    #[test]
    fn empty_table_matches_the_shutdown_golden() {
        // After "Received shutdown signal": header, rule and a zero Total.
        let want = format!(
            "{GOLDEN_TITLE}{GOLDEN_HEADER}{GOLDEN_RULE}\r Total                       :                  0.00       0.00       0.00     0.00       0.00       0.00       0.00\n"
        );
        assert_eq!(format_table(&[]), want);
    }

    #[test]
    fn full_table_for_one_job() {
        let mut r = result(Workload::Verify);
        for _ in 0..10 {
            r.latency.record(461_000);
        }
        r.io_completed = 10;
        r.run_time_us = 1_000_000;
        let t = format_report(&[r]);
        assert!(t.starts_with(GOLDEN_TITLE));
        assert!(t.contains(GOLDEN_JOB));
        assert!(t.contains(GOLDEN_RANGE));
        assert!(t.contains("\t Nvme0n1             :       1.00      10.00       0.04       0.00     0.00     461.00     461.00     461.00\n"));
        assert!(t.contains("\r Total                       :                 10.00       0.04       0.00     0.00     461.00     461.00     461.00\n"));
        assert!(t.ends_with(
            "[mpath-console] Nvme0n1: latency(us) p50 461.00, p99 461.00, p99.9 461.00; io_miscompared 0\n"
        ));
    }
}
