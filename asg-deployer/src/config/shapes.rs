//! What AWS identifiers and the other settings look like. They are checked by form before any
//! AWS call, so that a typo costs one sentence at the start rather than a failed stack later.

/// `prefix-` followed by 8 or 17 lowercase hex digits, as EC2 ids are.
pub fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        })
}

/// arn:PARTITION:acm:REGION:ACCOUNT(12 digits):certificate/ID
pub fn is_acm_arn(arn: &str) -> bool {
    regional_arn(arn, "acm")
        .and_then(|rest| rest.strip_prefix("certificate/"))
        .is_some_and(|id| {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// arn:PARTITION:sns:REGION:ACCOUNT(12 digits):TOPIC, the topic name as SNS allows it (1 to 256
/// letters, digits, hyphens and underscores, and `.fifo` at the end of a FIFO topic).
pub fn is_sns_topic_arn(arn: &str) -> bool {
    regional_arn(arn, "sns").is_some_and(|topic| {
        let name = topic.strip_suffix(".fifo").unwrap_or(topic);
        (1..=256).contains(&topic.len())
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// arn:PARTITION:iam::ACCOUNT(12 digits):role/[PATH/]NAME, the name as IAM allows it (1 to 64
/// letters, digits and `+=,.@_-`). IAM is global: the region field is empty.
pub fn is_iam_role_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, "iam", "", account, resource] = parts[..] else {
        return false;
    };
    let name = resource
        .strip_prefix("role/")
        .and_then(|path| path.rsplit('/').next())
        .unwrap_or_default();
    partition.starts_with("aws")
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

/// An SQS queue name: 1 to 80 letters, digits, hyphens and underscores, with `.fifo` at the end
/// of a FIFO queue (counted in the 80).
pub fn is_sqs_queue_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    (1..=80).contains(&name.len())
        && !base.is_empty()
        && base
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// arn:PARTITION:sqs:REGION:ACCOUNT(12 digits):NAME
pub fn is_sqs_queue_arn(arn: &str) -> bool {
    regional_arn(arn, "sqs").is_some_and(is_sqs_queue_name)
}

/// What follows `arn:PARTITION:SERVICE:REGION:ACCOUNT:` in an ARN of `service`.
fn regional_arn<'a>(arn: &'a str, service: &str) -> Option<&'a str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, svc, region, account, rest] = parts[..] else {
        return None;
    };
    let ok = prefix == "arn"
        && partition.starts_with("aws")
        && svc == service
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit());
    ok.then_some(rest)
}

/// `family.size`, as EC2 instance types are (`t3.micro`, `m7g.2xlarge`, `u-6tb1.metal`).
pub fn is_instance_type(t: &str) -> bool {
    match t.split_once('.') {
        Some((family, size)) => {
            !family.is_empty()
                && !size.is_empty()
                && family.starts_with(|c: char| c.is_ascii_lowercase())
                && (family.chars().chain(size.chars()))
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        }
        None => false,
    }
}

/// An IPv4 network in CIDR notation (`203.0.113.0/24`).
pub fn is_ipv4_cidr(c: &str) -> bool {
    match c.split_once('/') {
        Some((ip, bits)) => {
            ip.parse::<std::net::Ipv4Addr>().is_ok() && bits.parse::<u8>().is_ok_and(|b| b <= 32)
        }
        None => false,
    }
}

/// A fully qualified DNS name of at least two labels; `*` is allowed for wildcard records.
pub fn is_dns_name(n: &str) -> bool {
    n.len() <= 253
        && n.contains('.')
        && n.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        })
}

/// A name S3 accepts for a new bucket (the common rules; S3 itself has the last word).
pub fn is_bucket_name(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// 64 hex digits.
pub fn is_sha256(h: &str) -> bool {
    h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())
}

/// An https URL that is safe inside the boot script's single quotes; the reason when it is not.
pub fn check_https_url(u: &str, allow_checksum: bool) -> Result<(), String> {
    if u.contains('\'') || u.chars().any(char::is_whitespace) {
        return Err("contains a quote or a space: percent-encode it".into());
    }
    let parsed =
        url::Url::parse(u).map_err(|e| format!("is not a URL ({e}): use an https:// URL"))?;
    if parsed.scheme() != "https" || parsed.host().is_none() {
        return Err("is not an https URL: instances download only over TLS".into());
    }
    match parsed.fragment() {
        None => Ok(()),
        Some(f) if allow_checksum && f.strip_prefix("sha256=").is_some_and(is_sha256) => Ok(()),
        Some(_) if allow_checksum => {
            Err("has a fragment other than #sha256=<64 hex digits>: fix or remove it".into())
        }
        Some(_) => Err("must not have a #fragment: remove it".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_by_form() {
        assert!(is_aws_id("sg-0123abcd", "sg"));
        assert!(is_aws_id("ami-0123456789abcdef0", "ami"));
        assert!(!is_aws_id("ami-0123", "ami"));
        assert!(!is_aws_id("sg-0123ABCD", "sg"));
        assert!(!is_aws_id("subnet-0123abcd", "sg"));
        assert!(is_sns_topic_arn(
            "arn:aws:sns:eu-west-1:123456789012:deploys"
        ));
        assert!(is_sns_topic_arn(
            "arn:aws:sns:eu-west-1:123456789012:deploys.fifo"
        ));
        assert!(!is_sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:"));
        assert!(!is_sns_topic_arn("arn:aws:sns:eu-west-1:1234:deploys"));
        assert!(!is_sns_topic_arn(
            "arn:aws:sqs:eu-west-1:123456789012:deploys"
        ));
        assert!(!is_sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:a b"));
        assert!(is_acm_arn(
            "arn:aws:acm:us-east-1:123456789012:certificate/abc-123"
        ));
        assert!(!is_acm_arn(
            "arn:aws:iam::123456789012:server-certificate/abc"
        ));
        assert!(!is_acm_arn("arn:aws:acm:us-east-1:1234:certificate/abc"));
        assert!(is_iam_role_arn(
            "arn:aws:iam::123456789012:role/web-deploy-StackRole-1AB2"
        ));
        assert!(is_iam_role_arn(
            "arn:aws-cn:iam::123456789012:role/ci/asg-deploy"
        ));
        assert!(!is_iam_role_arn("arn:aws:iam::123456789012:user/alice"));
        assert!(!is_iam_role_arn("arn:aws:iam::123456789012:role/"));
        assert!(!is_iam_role_arn(
            "arn:aws:iam:us-east-1:123456789012:role/web"
        ));
        assert!(!is_iam_role_arn("arn:aws:iam::1234:role/web"));
        assert!(!is_iam_role_arn("arn:aws:iam::123456789012:role/a b"));
    }

    #[test]
    fn other_values_are_checked_by_form() {
        assert!(is_instance_type("t3.micro"));
        assert!(is_instance_type("u-6tb1.metal"));
        assert!(!is_instance_type("t3"));
        assert!(!is_instance_type("T3.micro"));
        assert!(is_ipv4_cidr("203.0.113.0/24"));
        assert!(!is_ipv4_cidr("203.0.113.0/33"));
        assert!(!is_ipv4_cidr("203.0.113.0"));
        assert!(is_dns_name("app.example.com"));
        assert!(is_dns_name("*.example.com"));
        assert!(!is_dns_name("localhost"));
        assert!(!is_dns_name("-a.example.com"));
        assert!(!is_dns_name(&format!("{}.com", "a".repeat(64))));
        assert!(is_bucket_name("my-config.bucket"));
        assert!(!is_bucket_name("My-Bucket"));
        assert!(!is_bucket_name("ab"));
        assert!(!is_bucket_name("bucket-"));
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"ab".repeat(31)));
    }

    #[test]
    fn https_urls_are_checked_for_the_boot_script() {
        assert!(check_https_url("https://example.com/a.jar", false).is_ok());
        assert!(check_https_url("http://example.com/a.jar", false).is_err());
        let with_sum = format!("https://example.com/a.jar#sha256={}", "a".repeat(64));
        assert!(check_https_url(&with_sum, true).is_ok());
        assert!(
            check_https_url(&with_sum, false)
                .unwrap_err()
                .contains("#fragment")
        );
        let bad_sum = check_https_url("https://example.com/a.jar#md5=abc", true).unwrap_err();
        assert!(bad_sum.contains("sha256"), "{bad_sum}");
        assert!(
            check_https_url("https://example.com/a b", false)
                .unwrap_err()
                .contains("quote")
        );
    }
}
