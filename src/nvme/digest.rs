//! CRC32C (Castagnoli) and the NVMe/TCP header and data digests.
//!
//! NVMe/TCP uses the iSCSI CRC32C: polynomial 0x1EDC6F41 (reflected
//! 0x82F63B78), initial value and final XOR 0xFFFFFFFF. The digest is stored
//! little-endian right after the bytes it covers. It is *not* the zlib CRC32.

/// Length of a header or data digest on the wire.
pub const DIGEST_LEN: usize = 4;

/// CRC32C of `data` (check value: `crc32c(b"123456789") == 0xE306_9283`).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Header digest: CRC32C over the HLEN header bytes (CH + PSH, not padding).
pub fn header_digest(header: &[u8]) -> u32 {
    crc32c(header)
}

/// Data digest as the spec and the Linux kernel compute it: CRC32C over the
/// PDU data only (not the header, not the padding).
pub fn data_digest(data: &[u8]) -> u32 {
    crc32c(data)
}

/// Data digest as SPDK computes it: the data is zero-padded to a multiple of
/// 4 bytes first. It equals [`data_digest`] whenever `data.len() % 4 == 0`,
/// which is every real NVMe transfer (LBAs and dword-counted admin data); the
/// receive path accepts either form so an odd-length peer is not rejected.
pub fn data_digest_padded(data: &[u8]) -> u32 {
    let rem = data.len() % 4;
    if rem == 0 {
        return crc32c(data);
    }
    const PAD: [u8; 3] = [0; 3];
    let crc = crc32c::crc32c_append(0, data);
    crc32c::crc32c_append(crc, &PAD[..4 - rem])
}

/// True if `wire` (the 4 digest bytes as received) matches `data` in either
/// the plain or the SPDK-padded form.
pub fn data_digest_matches(data: &[u8], wire: u32) -> bool {
    wire == data_digest(data) || (!data.len().is_multiple_of(4) && wire == data_digest_padded(data))
}

/// Read a little-endian digest from the first 4 bytes of `b`, if present.
pub fn read_digest(b: &[u8]) -> Option<u32> {
    let d: [u8; 4] = b.get(..DIGEST_LEN)?.try_into().ok()?;
    Some(u32::from_le_bytes(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn golden_capsule_resp_header_digest() {
        // Connect CQE (CNTLID 1) from digests.pcap, HDGST 0x32336242 stored LE.
        let pdu = [
            0x05, 0x01, 0x18, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x62, 0x33, 0x32,
        ];
        assert_eq!(header_digest(&pdu[..24]), 0x3233_6242);
        assert_eq!(read_digest(&pdu[24..]), Some(0x3233_6242));
        assert_eq!(read_digest(&pdu[26..]), None);
    }

    #[test]
    fn padded_digest_equals_plain_for_dword_multiples() {
        let d = [0xA5u8; 16];
        assert_eq!(data_digest(&d), data_digest_padded(&d));
        let odd = [1u8, 2, 3, 4, 5];
        let mut padded = odd.to_vec();
        padded.extend_from_slice(&[0, 0, 0]);
        assert_eq!(data_digest_padded(&odd), crc32c(&padded));
        assert_ne!(data_digest_padded(&odd), data_digest(&odd));
        assert!(data_digest_matches(&odd, data_digest(&odd)));
        assert!(data_digest_matches(&odd, data_digest_padded(&odd)));
        assert!(!data_digest_matches(&odd, 0x1234_5678));
    }
}
