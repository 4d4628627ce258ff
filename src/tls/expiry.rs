//! The end of a certificate's validity (`notAfter`), read from its DER: the one field of
//! X.509 vigild checks itself, so an expired certificate stops the start with a message
//! instead of failing every handshake. rustls checks validity only on the verifying side.
//!
//! It reads that one field and judges nothing else of a certificate (rustls does).

/// A DER element: its tag, its contents, and what follows it.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let length = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
        (length, rest)
    };
    (rest.len() >= length).then(|| {
        let (contents, rest) = rest.split_at(length);
        (tag, contents, rest)
    })
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// `notAfter` of the DER certificate `der` as Unix seconds, or None when it does not parse.
pub fn not_after(der: &[u8]) -> Option<i64> {
    let (SEQUENCE, certificate, _) = element(der)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = element(certificate)? else {
        return None;
    };
    let (tag, _, mut rest) = element(tbs)?;
    if tag == VERSION {
        // serialNumber follows the explicit version.
        (_, _, rest) = element(rest)?;
    }
    // signature, issuer, then validity.
    let (_, _, rest) = element(rest)?;
    let (_, _, rest) = element(rest)?;
    let (SEQUENCE, validity, _) = element(rest)? else {
        return None;
    };
    let (_, _, rest) = element(validity)?;
    let (tag, time, _) = element(rest)?;
    let time = std::str::from_utf8(time).ok()?.strip_suffix('Z')?;
    let full = match (tag, time.len()) {
        (UTC_TIME, 12) => {
            let year: u32 = time.get(..2)?.parse().ok()?;
            let century = if year >= 50 { "19" } else { "20" };
            format!("{century}{time}")
        }
        (GENERALIZED_TIME, 14) => time.to_string(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .ok()
        .map(|at| at.and_utc().timestamp())
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).map_or_else(
        || seconds.to_string(),
        |at| at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DER element of `tag` around `contents` (short or long form).
    fn wrap(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if contents.len() < 0x80 {
            out.push(contents.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(contents.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(contents);
        out
    }

    fn certificate(version: bool, not_after: (u8, &str)) -> Vec<u8> {
        let mut tbs = Vec::new();
        if version {
            tbs.extend(wrap(VERSION, &wrap(0x02, &[2])));
        }
        tbs.extend(wrap(0x02, &[7; 16]));
        tbs.extend(wrap(SEQUENCE, &[0x06, 0x01, 0x2a]));
        // An issuer long enough for the long length form.
        tbs.extend(wrap(SEQUENCE, &[0x31; 200]));
        let mut validity = wrap(UTC_TIME, b"260101000000Z");
        validity.extend(wrap(not_after.0, not_after.1.as_bytes()));
        tbs.extend(wrap(SEQUENCE, &validity));
        tbs.extend(wrap(SEQUENCE, &[]));
        let mut whole = wrap(SEQUENCE, &tbs);
        whole.extend(wrap(SEQUENCE, &[0x06, 0x01, 0x2a]));
        wrap(SEQUENCE, &whole)
    }

    #[test]
    fn not_after_is_read_from_utc_and_generalized_times() {
        let at = not_after(&certificate(true, (UTC_TIME, "261204034608Z")));
        assert_eq!(at.map(utc).as_deref(), Some("2026-12-04 03:46:08 UTC"));
        let at = not_after(&certificate(false, (GENERALIZED_TIME, "20510101000000Z")));
        assert_eq!(at.map(utc).as_deref(), Some("2051-01-01 00:00:00 UTC"));
        let at = not_after(&certificate(true, (UTC_TIME, "991231235959Z")));
        assert_eq!(at.map(utc).as_deref(), Some("1999-12-31 23:59:59 UTC"));
    }

    #[test]
    fn what_is_not_a_certificate_gives_none() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(not_after(&certificate(true, (UTC_TIME, "2612Z"))), None);
        let mut cut = certificate(true, (UTC_TIME, "261204034608Z"));
        cut.truncate(cut.len() - 40);
        assert_eq!(not_after(&cut), None);
    }
}
