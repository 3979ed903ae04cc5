//! `check`: the post-deploy health check as a command of its own, for a live stack, from any host
//! and on a schedule. Four checks, each with a verdict and a sentence: the live group's
//! instances in the target group, an HTTPS GET answered 200 by the live build, the TLS
//! certificate's days left, and the server's clock against this machine's.
//!
//! Each check runs once, without the waiting and retries of a rollout's check: a monitor that
//! runs every few minutes wants to know how the service is now.

use std::time::{Duration, SystemTime};

use serde_json::json;

use crate::aws::stack::{self, StackInfo};
use crate::error::Error;
use crate::session::Session;
use crate::watch::health::{self, Answer, MAX_CLOCK_SKEW};

/// The limits the checks are held to (`--max-drift`, `--cert-days`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest clock difference accepted.
    pub max_drift: Duration,
    /// The fewest days the certificate may have left.
    pub cert_days: u32,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Passed.
    Ok,
    /// Failed: the command exits 1.
    Failed,
    /// Could not be made (say, no answer to take a certificate or a time from); not a failure of
    /// its own, as the check that failed first says why.
    Skipped,
}

impl Verdict {
    fn word(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Failed => "failed",
            Verdict::Skipped => "skipped",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone)]
pub struct Finding {
    /// `targets`, `https`, `certificate` or `clock`.
    pub name: &'static str,
    /// How it came out.
    pub verdict: Verdict,
    /// What was seen, in a sentence.
    pub detail: String,
    /// The measure behind it, for machines: instances, days left, seconds of drift.
    pub value: Option<f64>,
}

impl Finding {
    fn new(name: &'static str, verdict: Verdict, detail: impl Into<String>) -> Finding {
        Finding {
            name,
            verdict,
            detail: detail.into(),
            value: None,
        }
    }

    fn with_value(self, value: f64) -> Finding {
        Finding {
            value: Some(value),
            ..self
        }
    }
}

/// Runs every check against the live stack and prints them; `Err` when one failed (exit 1) or
/// the stack is not there (exit 2).
pub async fn run(session: &Session<'_>, limits: Limits, as_json: bool) -> Result<(), Error> {
    let name = &session.target.stack_name;
    let info = stack::describe(&session.clients.cfn, name)
        .await?
        .ok_or_else(|| {
            Error::Refused(format!(
                "stack {name} does not exist: there is nothing to check; check STACK_NAME and REGION"
            ))
        })?;
    let build = info.build_number().ok_or_else(|| {
        Error::Refused(format!(
            "stack {name} has no BuildNumber parameter: it was not made by asg-deploy"
        ))
    })?;
    let url = match session.target.health_url.clone() {
        Some(url) => url,
        None => output(&info, "Url")?,
    };
    let findings = checks(session, &info, &url, build, limits).await?;
    if as_json {
        println!("{}", to_json(&info, &url, build, &findings));
    } else {
        for finding in &findings {
            session.display.line(format!(
                "{:<8}{:<13}{}",
                finding.verdict.word(),
                finding.name,
                finding.detail
            ));
        }
    }
    let failed: Vec<&str> = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Failed)
        .map(|f| f.name)
        .collect();
    match failed.len() {
        0 => Ok(()),
        n => Err(Error::Unhealthy(format!(
            "{n} of {} checks of stack {name} (build {build}) failed: {}",
            findings.len(),
            failed.join(", ")
        ))),
    }
}

fn output(info: &StackInfo, key: &str) -> Result<String, Error> {
    info.outputs.get(key).cloned().ok_or_else(|| {
        Error::Refused(format!(
            "stack {} has no {key} output: it was not made by asg-deploy, or its creation did not finish",
            info.name
        ))
    })
}

/// The four findings, in order.
async fn checks(
    session: &Session<'_>,
    info: &StackInfo,
    url: &str,
    build: u64,
    limits: Limits,
) -> Result<Vec<Finding>, Error> {
    let targets = targets(session, info).await?;
    let client = health::client(session.target.ca_cert_pem.as_deref())?;
    let answer = health::ask(&client, url).await;
    let idle = info.queue_scaled() && targets.value == Some(0.0);
    let https = match &answer {
        _ if idle => Finding::new(
            "https",
            Verdict::Skipped,
            format!(
                "no instance to answer {url}: the group is queue-scaled and its queue is empty"
            ),
        ),
        Ok(answer) => match answer.served_by(url, build) {
            Ok(evidence) => Finding::new(
                "https",
                Verdict::Ok,
                format!("{url} answered 200 from build {build} ({evidence})"),
            ),
            Err(why) => Finding::new("https", Verdict::Failed, why),
        },
        Err(why) => Finding::new("https", Verdict::Failed, why.clone()),
    };
    let now = SystemTime::now();
    let certificate = certificate(answer.as_ref().ok(), now, limits.cert_days);
    let clock = match &session.target.health_time_url {
        Some(time_url) => clock_from_endpoint(&client, time_url, limits.max_drift).await,
        None => clock_from_date(answer.as_ref().ok(), limits.max_drift),
    };
    Ok(vec![targets, https, certificate, clock])
}

/// The live group's instances, each healthy in the target group.
async fn targets(session: &Session<'_>, info: &StackInfo) -> Result<Finding, Error> {
    let group = output(info, "GroupName")?;
    let target_group = output(info, "TargetGroupArn")?;
    let states = health::target_states(session, &group, &target_group).await?;
    let unhealthy: Vec<String> = states
        .iter()
        .filter(|(_, state)| state.as_str() != "healthy")
        .map(|(id, state)| format!("{id} is {state}"))
        .collect();
    let count = states.len() as f64;
    Ok(if states.is_empty() && info.queue_scaled() {
        Finding::new(
            "targets",
            Verdict::Ok,
            format!("{} in group {group}", health::NO_INSTANCES_ON_A_QUEUE),
        )
        .with_value(0.0)
    } else if states.is_empty() {
        Finding::new(
            "targets",
            Verdict::Failed,
            format!("group {group} has no instances"),
        )
    } else if unhealthy.is_empty() {
        Finding::new(
            "targets",
            Verdict::Ok,
            format!(
                "{} instance(s) of group {group} healthy in the target group ({})",
                states.len(),
                states.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        Finding::new(
            "targets",
            Verdict::Failed,
            format!("in group {group}: {}", unhealthy.join(", ")),
        )
    }
    .with_value(count))
}

/// Days the server's certificate has left, against `min_days`.
fn certificate(answer: Option<&Answer>, now: SystemTime, min_days: u32) -> Finding {
    let Some(expires) = answer.and_then(|a| a.certificate_expires) else {
        return Finding::new(
            "certificate",
            Verdict::Skipped,
            "no certificate was seen: the GET got no answer",
        );
    };
    let days = match expires.duration_since(now) {
        Ok(left) => left.as_secs_f64() / 86_400.0,
        Err(past) => -past.duration().as_secs_f64() / 86_400.0,
    };
    let finding = if days < 0.0 {
        Finding::new(
            "certificate",
            Verdict::Failed,
            format!("the TLS certificate expired {:.0} day(s) ago", -days),
        )
    } else if days < f64::from(min_days) {
        Finding::new(
            "certificate",
            Verdict::Failed,
            format!(
                "the TLS certificate expires in {days:.1} day(s), fewer than --cert-days {min_days}: renew it"
            ),
        )
    } else {
        Finding::new(
            "certificate",
            Verdict::Ok,
            format!("the TLS certificate has {days:.0} day(s) left (at least {min_days} wanted)"),
        )
    };
    finding.with_value(days)
}

/// The clock, from the Date header of the GET: a lower bound of the difference, to the second.
fn clock_from_date(answer: Option<&Answer>, max_drift: Duration) -> Finding {
    let Some(off) = answer.and_then(|a| a.clock_offset) else {
        return Finding::new(
            "clock",
            Verdict::Skipped,
            "the answer had no Date header to read the server's time from",
        );
    };
    // From a Date header, anything under its one-second resolution reads as zero.
    let shown = if off.is_zero() {
        "the server's clock agrees with this machine's to the second (from the Date header)"
            .to_string()
    } else {
        format!(
            "the server's clock is at least {:.1} s away from this machine's (from the Date header, which tells time to the second)",
            off.as_secs_f64()
        )
    };
    judge_drift(off, max_drift, shown).with_value(off.as_secs_f64())
}

/// The clock, from a JSON time endpoint: the server's time against the middle of the round trip,
/// less half the round trip, which is how far the reading may be off.
async fn clock_from_endpoint(client: &reqwest::Client, url: &str, max_drift: Duration) -> Finding {
    let sent = SystemTime::now();
    let reply = async {
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET {url} failed: {}", crate::error::one_line(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url} answered {}", response.status()));
        }
        response
            .text()
            .await
            .map_err(|e| format!("GET {url} failed: {}", crate::error::one_line(&e)))
    }
    .await;
    let received = SystemTime::now();
    let server = match reply.and_then(|body| parse_now(&body).map_err(|why| format!("{url} {why}")))
    {
        Ok(server) => server,
        Err(why) => return Finding::new("clock", Verdict::Failed, why),
    };
    let round_trip = received.duration_since(sent).unwrap_or_default();
    let middle = sent + round_trip / 2;
    let (off, direction) = match server.duration_since(middle) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(behind) => (behind.duration(), "behind"),
    };
    let drift = off.saturating_sub(round_trip / 2);
    let shown = format!(
        "the server's clock is {:.3} s {direction} this machine's (from {url}, within {:.3} s)",
        drift.as_secs_f64(),
        (round_trip / 2).as_secs_f64()
    );
    judge_drift(drift, max_drift, shown).with_value(drift.as_secs_f64())
}

fn judge_drift(drift: Duration, max_drift: Duration, shown: String) -> Finding {
    if drift > max_drift {
        let advice = if max_drift < MAX_CLOCK_SKEW {
            ""
        } else {
            ": check time sync (chrony) on the instances"
        };
        Finding::new(
            "clock",
            Verdict::Failed,
            format!(
                "{shown}, more than --max-drift {} s{advice}",
                max_drift.as_secs_f64()
            ),
        )
    } else {
        Finding::new("clock", Verdict::Ok, shown)
    }
}

/// The time in a time endpoint's answer: `{"now": SECONDS}` (since 1970, fractions allowed) or
/// `{"now": "RFC 3339"}`.
pub fn parse_now(body: &str) -> Result<SystemTime, String> {
    let doc: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| "did not answer JSON: it should answer {\"now\": ...}".to_string())?;
    let time = match &doc["now"] {
        serde_json::Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(s)),
        serde_json::Value::String(text) => aws_smithy_types::DateTime::from_str(
            text,
            aws_smithy_types::date_time::Format::DateTime,
        )
        .ok()
        .and_then(|t| SystemTime::try_from(t).ok()),
        _ => None,
    };
    time.ok_or_else(|| {
        "answered no time in \"now\": give seconds since 1970 or an RFC 3339 time".to_string()
    })
}

fn to_json(info: &StackInfo, url: &str, build: u64, findings: &[Finding]) -> serde_json::Value {
    json!({
        "stack": info.name,
        "build": build,
        "url": url,
        "ok": findings.iter().all(|f| f.verdict != Verdict::Failed),
        "checks": findings.iter().map(|f| json!({
            "name": f.name,
            "status": f.verdict.word(),
            "detail": f.detail,
            "value": f.value,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_endpoints_answer_seconds_or_rfc3339() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_800_000_250);
        assert_eq!(parse_now(r#"{"now": 1764800000.25}"#).unwrap(), at);
        assert_eq!(
            parse_now(r#"{"now": "2025-12-03T22:13:20.25Z"}"#).unwrap(),
            at
        );
        assert!(
            parse_now("now")
                .unwrap_err()
                .contains("did not answer JSON")
        );
        assert!(parse_now(r#"{"time": 1}"#).unwrap_err().contains("\"now\""));
        assert!(parse_now(r#"{"now": "yesterday"}"#).is_err());
    }

    fn answer_expiring_in(days: i64, now: SystemTime) -> Answer {
        let shift = Duration::from_secs(days.unsigned_abs() * 86_400);
        Answer {
            status: reqwest::StatusCode::OK,
            build_header: None,
            body: String::new(),
            clock_offset: None,
            certificate_expires: Some(if days >= 0 { now + shift } else { now - shift }),
        }
    }

    #[test]
    fn certificates_with_few_days_left_fail() {
        let now = SystemTime::now();
        let ok = certificate(Some(&answer_expiring_in(30, now)), now, 14);
        assert_eq!(ok.verdict, Verdict::Ok, "{}", ok.detail);
        assert_eq!(ok.value, Some(30.0));
        let soon = certificate(Some(&answer_expiring_in(10, now)), now, 14);
        assert_eq!(soon.verdict, Verdict::Failed);
        assert!(
            soon.detail.contains("fewer than --cert-days 14"),
            "{}",
            soon.detail
        );
        let gone = certificate(Some(&answer_expiring_in(-3, now)), now, 14);
        assert!(
            gone.detail.contains("expired 3 day(s) ago"),
            "{}",
            gone.detail
        );
        assert_eq!(certificate(None, now, 14).verdict, Verdict::Skipped);
    }

    #[test]
    fn drift_past_the_limit_fails() {
        let limit = Duration::from_secs(1);
        assert_eq!(
            judge_drift(Duration::from_millis(900), limit, "x".into()).verdict,
            Verdict::Ok
        );
        let off = judge_drift(Duration::from_millis(2500), limit, "x".into());
        assert_eq!(off.verdict, Verdict::Failed);
        assert!(
            off.detail.contains("more than --max-drift 1 s"),
            "{}",
            off.detail
        );
    }
}
