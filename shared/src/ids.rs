//! Finding AWS resource ids in free text and names.

use std::collections::BTreeSet;

/// Every `prefix` + lowercase-hex id in `text` (`vpce-svc-0abc…` in a notification body whose
/// shape is not published, say).
pub fn find_ids(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let tail = &rest[at + prefix.len()..];
        let len = tail
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        // An id ends at a non-alphanumeric character; `vpce-svc-0abcxyz` is not an id.
        let ends_cleanly = tail[len..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if len > 0 && ends_cleanly {
            found.insert(format!("{prefix}{}", &tail[..len]));
        }
        rest = &tail[len..];
    }
    found
}

/// Whether `text` is an id of this kind: `prefix` and 8 or 17 lowercase hex digits (EC2's
/// short and long ids). Checked before an id is used in a call, a key or a link.
pub fn is_id(text: &str, prefix: &str) -> bool {
    text.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The most ids one event may name. EC2's tagging calls take up to 1,000 resources ("Constraints:
/// Up to 1000 resource IDs", CreateTags/DeleteTags API reference): an event naming more is not one
/// AWS sends, and is refused before any work.
pub const MAX_IDS_PER_EVENT: usize = 2_000;

/// Ids for a reply or a log line: how many, and the first few.
pub fn few(ids: &[impl AsRef<str>]) -> String {
    const SHOWN: usize = 5;
    let first: Vec<&str> = ids.iter().take(SHOWN).map(AsRef::as_ref).collect();
    match ids.len() {
        n if n <= SHOWN => first.join(", "),
        n => format!("{} and {} more", first.join(", "), n - SHOWN),
    }
}

/// The service id in an endpoint service name (`com.amazonaws.vpce.us-east-1.vpce-svc-0abc`).
pub fn service_id_from_name(service_name: &str) -> Option<String> {
    let last = service_name.rsplit('.').next()?;
    find_ids(last, "vpce-svc-")
        .into_iter()
        .find(|id| id == last)
}

/// FNV-1a: a stable, dependency-free fingerprint for ledger keys and notification ids.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The partition a region is in, as ARNs name it (the function's own region: the roles it assumes
/// are in the same partition). <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// A region name as AWS forms them (`us-east-1`, `us-gov-west-1`, `cn-northwest-1`): lowercase
/// words and a number, so it can go into a host name.
pub fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_against_their_pattern_and_shown_a_few_at_a_time() {
        for id in ["vpc-0a1b2c3d", "vpc-0a1b2c3d4e5f60718"] {
            assert!(is_id(id, "vpc-"), "{id}");
        }
        for not in [
            "vpc-0a1b",
            "vpc-0A1B2C3D",
            "vpc-0a1b2c3d4e5f6071",
            "vpce-0a1b2c3d",
            "vpc-0a1b2c3d>|evil",
            "vpc-",
        ] {
            assert!(!is_id(not, "vpc-"), "{not}");
        }
        assert_eq!(few(&["a", "b"]), "a, b");
        let many: Vec<String> = (0..9).map(|n| n.to_string()).collect();
        assert_eq!(few(&many), "0, 1, 2, 3, 4 and 4 more");
    }

    #[test]
    fn partitions_and_regions() {
        assert_eq!(partition("us-east-1"), "aws");
        assert_eq!(partition("cn-northwest-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
        for ok in ["us-east-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4"] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "evil.example/x",
            "us-east-1.evil",
            "US-EAST-1",
            "us-east",
            "-1",
            "us--1",
            "us-east-0",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }

    #[test]
    fn finds_ids_in_any_text() {
        let text = r#"{"serviceId":"vpce-svc-0a1b","other":"vpce-svc-0a1b vpce-svc-ff,vpce-svc-zz vpce-svc-12ab"}"#;
        let ids: Vec<String> = find_ids(text, "vpce-svc-").into_iter().collect();
        assert_eq!(ids, ["vpce-svc-0a1b", "vpce-svc-12ab", "vpce-svc-ff"]);
    }

    #[test]
    fn service_names_give_their_id() {
        assert_eq!(
            service_id_from_name("com.amazonaws.vpce.us-east-1.vpce-svc-0a1b").as_deref(),
            Some("vpce-svc-0a1b")
        );
        assert_eq!(service_id_from_name("com.amazonaws.us-east-1.s3"), None);
    }
}
