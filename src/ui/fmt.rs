//! Number, size, rate and time formatting shared by the panes.

use std::sync::OnceLock;

use humansize::{format_size, BINARY};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// `1.2M`, `34.5k`, `812`: an operation rate in at most 6 columns.
pub fn count(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// MiB/s with one decimal (`96.1`).
pub fn mibps(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    if v >= 1000.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// Bytes as `64 MiB`, `512 B`.
pub fn bytes(n: u64) -> String {
    format_size(n, BINARY)
}

/// A byte rate per second, compact: `1.2M/s`, `430k/s`, `0/s`.
pub fn byte_rate(bps: f64) -> String {
    if !bps.is_finite() {
        return "—".into();
    }
    let (v, u) = if bps >= 1024.0 * 1024.0 * 1024.0 {
        (bps / (1024.0 * 1024.0 * 1024.0), "G")
    } else if bps >= 1024.0 * 1024.0 {
        (bps / (1024.0 * 1024.0), "M")
    } else if bps >= 1024.0 {
        (bps / 1024.0, "k")
    } else {
        (bps, "")
    };
    if u.is_empty() {
        format!("{v:.0}B/s")
    } else if v >= 100.0 {
        format!("{v:.0}{u}/s")
    } else {
        format!("{v:.1}{u}/s")
    }
}

/// Microseconds, adaptive: `87µs`, `1.24ms`, `2.1s`.
pub fn micros(us: f64) -> String {
    if !us.is_finite() {
        return "—".into();
    }
    if us >= 1_000_000.0 {
        format!("{:.1}s", us / 1e6)
    } else if us >= 10_000.0 {
        format!("{:.0}ms", us / 1e3)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// Local wall-clock time of an epoch timestamp: `14:03:07.412`, in the
/// system's time zone (`TZ`, else `/etc/localtime`, else UTC).
pub fn clock(epoch_secs: f64) -> String {
    let t = Timestamp::from_duration(SignedDuration::from_secs_f64(epoch_secs.max(0.0)))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    t.to_zoned(system_zone())
        .strftime("%H:%M:%S%.3f")
        .to_string()
}

/// The system time zone, looked up once: a lookup reads `/etc/localtime`.
fn system_zone() -> TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    TZ.get_or_init(TimeZone::system).clone()
}

/// Seconds since the Unix epoch, now.
pub fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Parses an RFC 3339 timestamp (`2026-11-25T08:00:01.250Z`, offsets
/// allowed) or an epoch number into epoch seconds.
pub fn parse_time(v: &serde_json::Value) -> Option<f64> {
    if let Some(f) = v.as_f64() {
        return Some(f);
    }
    let s = v.as_str()?;
    if let Ok(f) = s.parse::<f64>() {
        return Some(f);
    }
    rfc3339(s)
}

/// RFC 3339 with an offset; without one the time is taken as UTC.
fn rfc3339(s: &str) -> Option<f64> {
    let t = match s.parse::<Timestamp>() {
        Ok(t) => t,
        Err(_) => s
            .parse::<DateTime>()
            .ok()?
            .to_zoned(TimeZone::UTC)
            .ok()?
            .timestamp(),
    };
    Some(t.as_duration().as_secs_f64())
}

/// Cuts `s` to `w` columns, replacing the middle with `…` (bandwhich's
/// `truncate_middle`), so both ends of an address stay readable.
pub fn truncate_middle(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w <= 1 {
        return "…".chars().take(w).collect();
    }
    let left = (w - 1) / 2;
    let right = w - 1 - left;
    let head: String = s.chars().take(left).collect();
    let tail: String = s.chars().skip(n - right).collect();
    format!("{head}…{tail}")
}

/// Cuts `s` to `w` columns with a trailing `…`.
pub fn truncate(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut o: String = s.chars().take(w - 1).collect();
    o.push('…');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(count(24598.12), "24.6k");
        assert_eq!(count(1_234_567.0), "1.23M");
        assert_eq!(count(12.0), "12.0");
        assert_eq!(byte_rate(100.0 * 1024.0 * 1024.0), "100M/s");
        assert_eq!(byte_rate(512.0), "512B/s");
        assert_eq!(micros(87.4), "87µs");
        assert_eq!(micros(1240.0), "1.24ms");
        assert_eq!(bytes(64 * 1024 * 1024), "64 MiB");
        assert_eq!(
            truncate_middle("nqn.2022-02.io.spdk:cnode0", 11),
            "nqn.2…node0"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
    }

    #[test]
    fn clock_shows_seconds_and_milliseconds() {
        // Zones differ in hours and minutes, never (since 1972) in seconds.
        assert!(clock(86_400.0 * 365.0 * 10.0 + 1.25).ends_with(":01.250"));
        assert_eq!(clock(-5.0).len(), "00:00:00.000".len());
    }

    #[test]
    fn rfc3339_parses() {
        assert_eq!(rfc3339("1970-01-01T00:00:01Z"), Some(1.0));
        assert_eq!(rfc3339("2000-03-01T00:00:00Z"), Some(951_868_800.0));
        let v = rfc3339("2026-11-25T08:00:01.250+01:00").unwrap();
        assert!((v - (rfc3339("2026-11-25T07:00:01Z").unwrap() + 0.25)).abs() < 1e-6);
        assert_eq!(parse_time(&serde_json::json!(12.5)), Some(12.5));
        assert_eq!(
            rfc3339("2026-11-25T07:00:01"),
            rfc3339("2026-11-25T07:00:01Z")
        );
        assert_eq!(parse_time(&serde_json::json!("nonsense")), None);
        assert_eq!(parse_time(&serde_json::json!("2026-13-01T00:00:00Z")), None);
    }
}
