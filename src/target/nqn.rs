//! NQN validation with SPDK's rules (`nvmf_valid_nqn`), so that exactly the
//! names SPDK refuses are refused here.

pub const DISCOVERY_NQN: &str = "nqn.2014-08.org.nvmexpress.discovery";
const UUID_PREFIX: &str = "nqn.2014-08.org.nvmexpress:uuid:";
/// NQNs are at most 223 bytes (NVMe base spec 4.5).
pub const NQN_MAX_LEN: usize = 223;
/// "nqn.yyyy-mm." plus at least one character.
const NQN_MIN_LEN: usize = 11;
const DOMAIN_LABEL_MAX_LEN: usize = 63;

pub fn is_valid(nqn: &str) -> bool {
    let len = nqn.len();
    if !(NQN_MIN_LEN..=NQN_MAX_LEN).contains(&len) {
        return false;
    }
    if nqn == DISCOVERY_NQN {
        return true;
    }
    if let Some(uuid) = nqn.strip_prefix(UUID_PREFIX) {
        return uuid.len() == 36 && uuid::Uuid::parse_str(uuid).is_ok();
    }
    let b = nqn.as_bytes();
    if !nqn.starts_with("nqn.") {
        return false;
    }
    let date_ok = b[4..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..11].iter().all(u8::is_ascii_digit)
        && b.get(11) == Some(&b'.');
    if !date_ok {
        return false;
    }
    // A reverse domain, then ':' and a non-empty user part.
    let Some(colon) = nqn.find(':') else {
        return false;
    };
    if colon < 12 || colon + 1 >= len {
        return false;
    }
    nqn[12..colon]
        .split('.')
        .all(|label| valid_label(label.as_bytes()))
}

/// RFC 1034 label: starts with a letter, then letters, digits or '-', and
/// does not end with '-'.
fn valid_label(l: &[u8]) -> bool {
    match (l.first(), l.last()) {
        (Some(f), Some(e)) => {
            f.is_ascii_alphabetic()
                && e.is_ascii_alphanumeric()
                && l.len() <= DOMAIN_LABEL_MAX_LEN
                && l.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn spdk_accepts() {
        for n in [
            "nqn.2022-02.io.spdk:cnode0",
            "nqn.2016-06.io.spdk:cnode1",
            "nqn.2014-08.org.nvmexpress.discovery",
            "nqn.2014-08.org.nvmexpress:uuid:898137e1-c814-4b1d-9aa2-4191c493c4c6",
            "nqn.2016-06.io.spdk:host1",
            "nqn.2020-01.a-b.c9:x",
        ] {
            assert!(is_valid(n), "{n}");
        }
    }

    #[test]
    fn spdk_refuses() {
        for n in [
            "not-an-nqn",
            "bad nqn",
            "nqn.22-02.io.spdk:x",
            "nqn.2022-02.io.spdk",
            "nqn.2022-02.io.spdk:",
            "nqn.2022-02.9io.spdk:x",
            "nqn.2022-02.io-.spdk:x",
            "nqn.2022-02..spdk:x",
            "nqn.2014-08.org.nvmexpress:uuid:not-a-uuid",
        ] {
            assert!(!is_valid(n), "{n}");
        }
        assert!(!is_valid(&format!(
            "nqn.2022-02.io.spdk:{}",
            "a".repeat(220)
        )));
    }
}
