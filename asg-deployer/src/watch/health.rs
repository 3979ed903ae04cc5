//! After a successful rollout: every instance of the new group healthy in the target group, and
//! an HTTPS request answered 200 by the new build, from a server whose clock agrees with ours.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::aws::stack::StackInfo;
use crate::cli::HealthCheck;
use crate::error::{Error, one_line};
use crate::session::Session;

/// The header the nginx site adds to every answer (see nginx/app.conf).
pub const BUILD_HEADER: &str = "x-build-number";
/// A clock further off than this is reported: TLS, signatures and logs depend on it.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(1);
/// Attempts at the HTTPS request; the load balancer may need a moment for new targets.
const HTTP_ATTEMPTS: u32 = 3;

/// What a queue-scaled group with no instance is: healthy, with nothing to check.
pub const NO_INSTANCES_ON_A_QUEUE: &str = "no instances (queue-scaled, empty queue)";

/// Runs the configured checks against the stack's outputs.
pub async fn check(session: &Session<'_>, info: &StackInfo, build: u64) -> Result<(), Error> {
    let display = session.display;
    if session.target.health_check == HealthCheck::Off {
        display.line("Health check skipped (HEALTH_CHECK=off)");
        return Ok(());
    }
    let output = |key: &str| {
        info.outputs
            .get(key)
            .cloned()
            .ok_or_else(|| Error::Unhealthy(format!("the stack has no {key} output to check")))
    };
    let group = output("GroupName")?;
    let target_group = output("TargetGroupArn")?;
    // A queue-scaled group may rightly be empty: one reading tells, and is the first of the wait.
    let mut first = None;
    if info.queue_scaled() {
        let states = target_states(session, &group, &target_group).await?;
        if states.is_empty() {
            display.line(format!(
                "Health: {NO_INSTANCES_ON_A_QUEUE} in group {group}"
            ));
            return Ok(());
        }
        first = Some(states);
    }
    let states = wait_for_targets(session, &group, &target_group, first).await?;
    display.line(format!(
        "Health: {} instance(s) of group {group} healthy in the target group ({})",
        states.len(),
        states.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    if session.target.health_check == HealthCheck::Targets {
        return Ok(());
    }
    let url = match &session.target.health_url {
        Some(url) => url.clone(),
        None => output("Url")?,
    };
    let client = client(session.target.ca_cert_pem.as_deref())?;
    let mut last = String::new();
    for attempt in 1..=HTTP_ATTEMPTS {
        match http_check(&client, &url, build).await {
            Ok(seen) => {
                display.line(format!(
                    "Health: {url} answered 200 from build {build} ({})",
                    seen.evidence
                ));
                if let Some(warning) = seen.clock_warning() {
                    display.line(format!("Warning: {warning}"));
                }
                return Ok(());
            }
            Err(why) => last = why,
        }
        if attempt < HTTP_ATTEMPTS {
            tokio::time::sleep(session.poll).await;
        }
    }
    Err(Error::Unhealthy(last))
}

/// The HTTPS client of the check: the system's roots plus the operator's CA, if any; it keeps
/// the server's certificate for [`Answer::certificate_expires`].
pub fn client(ca_cert_pem: Option<&[u8]>) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_info(true);
    if let Some(pem) = ca_cert_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| Error::Unhealthy(format!("HEALTH_CHECK_CA_CERT cannot be used: {e}")))?;
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| Error::Unhealthy(format!("cannot build an HTTPS client: {e}")))
}

/// Polls until every instance of `group` is healthy in `target_group`, or the deadline; `first`
/// is a reading taken just before, if any.
async fn wait_for_targets(
    session: &Session<'_>,
    group: &str,
    target_group: &str,
    mut first: Option<BTreeMap<String, String>>,
) -> Result<BTreeMap<String, String>, Error> {
    loop {
        let states = match first.take() {
            Some(states) => states,
            None => target_states(session, group, target_group).await?,
        };
        let unhealthy: Vec<String> = states
            .iter()
            .filter(|(_, state)| state.as_str() != "healthy")
            .map(|(id, state)| format!("{id} is {state}"))
            .collect();
        if !states.is_empty() && unhealthy.is_empty() {
            return Ok(states);
        }
        if Instant::now() >= session.deadline() {
            let why = if states.is_empty() {
                format!("group {group} has no instances")
            } else {
                unhealthy.join(", ")
            };
            return Err(Error::Unhealthy(format!(
                "{why} in the target group: look at the instances' boot log (/var/log/cloud-init-output.log)"
            )));
        }
        session.display.status(format!(
            "waiting for healthy targets: {}",
            unhealthy.join(", ")
        ));
        tokio::select! {
            _ = session.shutdown.cancelled() => return Err(session.interrupted()),
            _ = tokio::time::sleep(session.poll) => {}
        }
    }
}

/// Instance id -> target state ("healthy", "initial", ..., or "not registered").
pub async fn target_states(
    session: &Session<'_>,
    group: &str,
    target_group: &str,
) -> Result<BTreeMap<String, String>, Error> {
    let groups = session
        .clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(group)
        .send()
        .await
        .map_err(|e| crate::error::aws("DescribeAutoScalingGroups", e))?;
    let instances: Vec<String> = groups
        .auto_scaling_groups()
        .iter()
        .flat_map(|g| g.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect();
    let health = session
        .clients
        .elb
        .describe_target_health()
        .target_group_arn(target_group)
        .send()
        .await
        .map_err(|e| crate::error::aws("DescribeTargetHealth", e))?;
    let registered: BTreeMap<&str, &str> = health
        .target_health_descriptions()
        .iter()
        .filter_map(|d| {
            let id = d.target()?.id()?;
            let state = d.target_health()?.state()?.as_str();
            Some((id, state))
        })
        .collect();
    Ok(instances
        .into_iter()
        .map(|id| {
            let state = registered
                .get(id.as_str())
                .copied()
                .unwrap_or("not registered")
                .to_string();
            (id, state)
        })
        .collect())
}

/// What a good answer showed.
#[derive(Debug, Clone)]
pub struct HttpSeen {
    /// Where the build number was found (header or body).
    pub evidence: String,
    /// Server clock minus ours, when the answer had a Date header; see [`clock_offset`].
    pub clock_offset: Option<Duration>,
}

impl HttpSeen {
    /// A warning line when the server's clock is off by more than [`MAX_CLOCK_SKEW`].
    pub fn clock_warning(&self) -> Option<String> {
        let off = self.clock_offset?;
        (off > MAX_CLOCK_SKEW).then(|| {
            format!(
                "the server's clock is at least {:.1}s away from this machine's; check time sync (chrony) on the instances",
                off.as_secs_f64()
            )
        })
    }
}

/// What one GET of the service told, before it is judged.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: reqwest::StatusCode,
    /// The X-Build-Number header, trimmed.
    pub build_header: Option<String>,
    /// The body, as text (empty when it was not).
    pub body: String,
    /// Server clock minus ours, from the Date header; see [`clock_offset`].
    pub clock_offset: Option<Duration>,
    /// When the server's TLS certificate expires (https only).
    pub certificate_expires: Option<SystemTime>,
}

/// One GET of `url` with `client` (see [`client`]), whatever it answers; `Err` says why no answer
/// came.
pub async fn ask(client: &reqwest::Client, url: &str) -> Result<Answer, String> {
    let sent = SystemTime::now();
    let response = client.get(url).send().await.map_err(|e| {
        let why = one_line(&e);
        let hint = if why.contains("certificate") {
            "; if the service uses a private CA, pass it with --ca-cert (HEALTH_CHECK_CA_CERT)"
        } else {
            ""
        };
        format!("GET {url} failed: {why}{hint}")
    })?;
    let received = SystemTime::now();
    let status = response.status();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let build_header = response
        .headers()
        .get(BUILD_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string());
    let certificate_expires = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(certificate_expiry);
    let body = response.text().await.unwrap_or_default();
    Ok(Answer {
        status,
        build_header,
        body,
        clock_offset: date.map(|d| clock_offset(d, sent, received)),
        certificate_expires,
    })
}

/// The end of a DER certificate's validity.
fn certificate_expiry(der: &[u8]) -> Option<SystemTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let secs = cert.validity().not_after.timestamp();
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

impl Answer {
    /// Whether this is the answer of `build`: 200, and the build in the X-Build-Number header (or
    /// in the body). `Ok` says where the build was found; `Err` what was wrong, in a sentence.
    pub fn served_by(&self, url: &str, build: u64) -> Result<String, String> {
        if self.status != reqwest::StatusCode::OK {
            return Err(format!("GET {url} answered {}, not 200", self.status));
        }
        let want = build.to_string();
        match &self.build_header {
            Some(h) if *h == want => Ok(format!("{BUILD_HEADER}: {h}")),
            Some(h) => Err(format!(
                "GET {url} was served by build {h}, not {build}: the old fleet still answers"
            )),
            None if self
                .body
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|word| word == want) =>
            {
                Ok("build number in the body".to_string())
            }
            None => Err(format!(
                "GET {url} answered 200 without {BUILD_HEADER} and without {build} in the body: is nginx/app.conf deployed?"
            )),
        }
    }
}

/// One GET of `url`: 200 and the build in the X-Build-Number header (or in the body).
pub async fn http_check(
    client: &reqwest::Client,
    url: &str,
    build: u64,
) -> Result<HttpSeen, String> {
    let answer = ask(client, url).await?;
    let evidence = answer.served_by(url, build)?;
    Ok(HttpSeen {
        evidence,
        clock_offset: answer.clock_offset,
    })
}

/// The smallest distance between the server's clock and ours that the answer proves. A Date
/// header is truncated to the second, so the server's time lay in [date, date + 1s), and it was
/// read somewhere between sending and receiving.
pub fn clock_offset(date: SystemTime, sent: SystemTime, received: SystemTime) -> Duration {
    let server_latest = date + Duration::from_secs(1);
    if let Ok(behind) = sent.duration_since(server_latest) {
        behind
    } else if let Ok(ahead) = date.duration_since(received) {
        ahead
    } else {
        Duration::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, millis: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn a_truncated_date_inside_the_round_trip_is_in_sync() {
        // Server said 100 (meaning 100.0..101.0); we sent at 100.4 and received at 100.6.
        assert_eq!(
            clock_offset(at(100, 0), at(100, 400), at(100, 600)),
            Duration::ZERO
        );
        assert_eq!(
            clock_offset(at(100, 0), at(100, 900), at(101, 200)),
            Duration::ZERO
        );
    }

    #[test]
    fn a_server_behind_or_ahead_is_measured_conservatively() {
        // Server said 95: at best 96.0 when we were at 100.4 -> 4.4 s behind.
        assert_eq!(
            clock_offset(at(95, 0), at(100, 400), at(100, 600)),
            Duration::from_millis(4400)
        );
        // Server said 103 when we had received by 100.6 -> 2.4 s ahead.
        assert_eq!(
            clock_offset(at(103, 0), at(100, 400), at(100, 600)),
            Duration::from_millis(2400)
        );
    }

    #[test]
    fn only_skew_past_one_second_warns() {
        let seen = |ms| HttpSeen {
            evidence: String::new(),
            clock_offset: Some(Duration::from_millis(ms)),
        };
        assert!(seen(900).clock_warning().is_none());
        assert!(seen(1000).clock_warning().is_none());
        assert!(seen(1500).clock_warning().unwrap().contains("1.5s"));
    }
}
