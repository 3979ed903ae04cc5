//! Shared test helpers: a real moto server on a free 127.0.0.1 port, the network and
//! certificate it needs, and running the real `asg-deploy` binary with a scrubbed environment.
#![allow(dead_code)] // each test file uses a different part of this module

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::{Credentials, Region};
use aws_types::SdkConfig;
use test_support::moto::MotoProcess;

/// A moto server owned by one test; killed when dropped.
pub struct Moto {
    _process: MotoProcess,
    /// http://127.0.0.1:PORT
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` (installed by scripts/setup) and waits until it accepts connections.
    pub fn start() -> Moto {
        Moto::from(MotoProcess::start())
    }

    /// Starts moto with public SSM parameters (`/aws/service/...`) already in place, as AWS has
    /// them: moto ships few of them and refuses to store names under `/aws/` through its API.
    pub fn start_with_public_parameters(parameters: &[(&str, &str)]) -> Moto {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/common/moto_public_parameters.py");
        Moto::from(MotoProcess::launch(|port| {
            let mut cmd = Command::new("python3");
            cmd.arg(&script)
                .args(["127.0.0.1", &port.to_string(), REGION])
                .args(parameters.iter().map(|(k, v)| format!("{k}={v}")));
            cmd
        }))
    }

    fn from(process: MotoProcess) -> Moto {
        Moto {
            endpoint: process.endpoint.clone(),
            _process: process,
        }
    }

    /// SDK configuration for this server with dummy credentials.
    pub fn sdk_config(&self) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(
                aws_sdk_cloudformation::config::SharedCredentialsProvider::new(Credentials::new(
                    "test", "test", None, None, "tests",
                )),
            )
            .build()
    }

    /// The tool's clients, pointed at this server.
    pub fn clients(&self) -> asg_deployer::aws::Clients {
        asg_deployer::aws::Clients::from_conf(&self.sdk_config(), true)
    }

    /// A VPC with two subnets in two zones, an issued ACM certificate and an AMI, made through
    /// moto's own APIs like an operator's account would have them.
    pub async fn network(&self) -> Network {
        let conf = self.sdk_config();
        let ec2 = aws_sdk_ec2::Client::new(&conf);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap()
            .to_string();
        let mut subnets = Vec::new();
        for (i, zone) in ["a", "b"].iter().enumerate() {
            let subnet = subnet(&ec2, &vpc, &format!("10.0.{i}.0/24"), zone).await;
            ec2.modify_subnet_attribute()
                .subnet_id(&subnet)
                .map_public_ip_on_launch(
                    aws_sdk_ec2::types::AttributeBooleanValue::builder()
                        .value(true)
                        .build(),
                )
                .send()
                .await
                .unwrap();
            subnets.push(subnet);
        }
        // Public subnets: the VPC's main route table leads to an internet gateway.
        let gateway = ec2
            .create_internet_gateway()
            .send()
            .await
            .unwrap()
            .internet_gateway()
            .and_then(|g| g.internet_gateway_id())
            .unwrap()
            .to_string();
        ec2.attach_internet_gateway()
            .internet_gateway_id(&gateway)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        let main_table = ec2
            .describe_route_tables()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("vpc-id")
                    .values(&vpc)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .route_tables()[0]
            .route_table_id()
            .unwrap()
            .to_string();
        ec2.create_route()
            .route_table_id(&main_table)
            .destination_cidr_block("0.0.0.0/0")
            .gateway_id(&gateway)
            .send()
            .await
            .unwrap();
        let acm = aws_sdk_acm::Client::new(&conf);
        let certificate = acm
            .request_certificate()
            .domain_name("app.example.com")
            .send()
            .await
            .unwrap()
            .certificate_arn()
            .unwrap()
            .to_string();
        let images = ec2.describe_images().owners("amazon").send().await.unwrap();
        let ami = images.images()[0].image_id().unwrap().to_string();
        Network {
            vpc,
            subnets,
            certificate,
            ami,
        }
    }
}

/// The region every test uses.
pub const REGION: &str = "us-east-1";

/// Makes a subnet of `cidr` in `vpc`, in availability zone `zone` ("a", "b", ...) of [`REGION`].
pub async fn subnet(ec2: &aws_sdk_ec2::Client, vpc: &str, cidr: &str, zone: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .availability_zone(format!("{REGION}{zone}"))
        .send()
        .await
        .unwrap()
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap()
        .to_string()
}

/// What the stack needs from the account.
#[derive(Debug, Clone)]
pub struct Network {
    /// VPC id.
    pub vpc: String,
    /// Two subnets in two zones.
    pub subnets: Vec<String>,
    /// ACM certificate ARN.
    pub certificate: String,
    /// An AMI moto knows.
    pub ami: String,
}

/// The outcome of one run of the binary.
pub struct Run {
    /// The command line, for failure messages.
    pub command: String,
    /// Exit code.
    pub code: i32,
    /// Everything printed on stdout.
    pub stdout: String,
    /// Everything printed on stderr.
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, printing the whole run when it differs.
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "{self}");
        self
    }

    /// Asserts that stdout or stderr contains `text`.
    pub fn expect_output(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "expected {text:?} in the output of\n{self}"
        );
        self
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }
}

/// The binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_asg-deploy"))
}

/// Runs `asg-deploy ARGS` with only `envs` set (plus PATH and a throwaway HOME), so no AWS_*
/// variable or profile of the machine leaks in.
pub fn asg_deploy(args: &[&str], envs: &[(&str, String)]) -> Run {
    asg_deploy_at(&binary(), args, envs)
}

/// Runs a copy of asg-deploy that has no `fetch` beside it, as one installed on its own would.
pub fn asg_deploy_alone(args: &[&str], envs: &[(&str, String)]) -> Run {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory of its own");
    let alone = dir.path().join("asg-deploy");
    std::fs::hard_link(binary(), &alone)
        .or_else(|_| std::fs::copy(binary(), &alone).map(drop))
        .expect("a copy of asg-deploy");
    asg_deploy_at(&alone, args, envs)
}

/// A file that starts as a 64-bit Linux executable for `arch` ("x86_64" or "arm64") does:
/// enough for asg-deploy to upload it as the instances' fetch, which it never runs.
pub fn linux_executable(dir: &std::path::Path, arch: &str) -> PathBuf {
    let machine: u16 = match arch {
        "x86_64" => 62,
        "arm64" => 183,
        other => panic!("no ELF machine for {other}"),
    };
    let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0".to_vec();
    bytes.extend_from_slice(&machine.to_le_bytes());
    bytes.extend_from_slice(arch.as_bytes());
    let path = dir.join(format!("fetch-{arch}"));
    std::fs::write(&path, bytes).expect("the executable is written");
    path
}

fn asg_deploy_at(program: &std::path::Path, args: &[&str], envs: &[(&str, String)]) -> Run {
    let home = tempfile::tempdir().expect("a temporary HOME");
    let mut cmd = Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("asg-deploy runs");
    let command = format!(
        "{} asg-deploy {}",
        envs.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" "),
        args.join(" ")
    );
    Run {
        command,
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The environment of a deployment against `moto`: dummy credentials and every required setting.
pub fn deploy_env(
    moto: &Moto,
    net: &Network,
    stack: &str,
    build: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
        ("STACK_NAME", stack.into()),
        ("BUILD_NUMBER", build.to_string()),
        ("SUBNETS", net.subnets.join(",")),
        ("AWSCERTIFICATE", net.certificate.clone()),
        ("AMIID", net.ami.clone()),
        (
            "ARTIFACT_URL",
            "https://artifacts.example.com/app-1.jar".into(),
        ),
        // moto's load balancer has no real DNS name to send an HTTPS request to.
        ("HEALTH_CHECK", "targets".into()),
    ]
}

/// Replaces (or adds) one variable.
pub fn with(
    mut env: Vec<(&'static str, String)>,
    key: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    env.retain(|(k, _)| *k != key);
    env.push((key, value.to_string()));
    env
}

/// What the stand-in for the load balancer answers; tests change it between runs.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Value of X-Build-Number, or none.
    pub build: Option<String>,
    /// Shift of the Date header from this machine's clock, in seconds (None: hyper's own Date).
    pub clock_offset_secs: Option<i64>,
}

/// An HTTPS server on 127.0.0.1 with a certificate signed by a CA made for the test, standing in
/// for the load balancer in front of the new fleet (copied in spirit from downloader's tests).
pub struct HttpsApp {
    /// https://127.0.0.1:PORT/
    pub url: String,
    /// PEM of the CA that signed the server's certificate.
    pub ca_pem: String,
    answer: std::sync::Arc<std::sync::Mutex<Answer>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl HttpsApp {
    /// Starts the server answering `answer` to every request.
    pub async fn start(answer: Answer) -> HttpsApp {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let (acceptor, ca_pem) = test_support::tls_acceptor("asg-deploy test CA");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(std::sync::Mutex::new(answer));
        let hits = Arc::new(AtomicUsize::new(0));
        let (shared, counter) = (answer.clone(), hits.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, shared, counter) =
                    (acceptor.clone(), shared.clone(), counter.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let answer = shared.lock().unwrap().clone();
                        let time = req.uri().path() == "/now";
                        async move {
                            Ok::<_, std::convert::Infallible>(if time {
                                tell_time(&answer)
                            } else {
                                respond(&answer)
                            })
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
                });
            }
        });
        HttpsApp {
            url: format!("https://{addr}/"),
            ca_pem,
            answer,
            hits,
        }
    }

    /// Changes what every later request gets.
    pub fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Requests served so far.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Writes the CA to `dir` and returns its path, for HEALTH_CHECK_CA_CERT.
    pub fn ca_file(&self, dir: &std::path::Path) -> PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap();
        path
    }
}

/// This machine's time shifted by the answer's clock offset.
fn server_now(answer: &Answer) -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    match answer.clock_offset_secs {
        Some(offset) if offset >= 0 => now + Duration::from_secs(offset.unsigned_abs()),
        Some(offset) => now - Duration::from_secs(offset.unsigned_abs()),
        None => now,
    }
}

/// `/now`: the server's time as JSON, as an app's time endpoint answers it.
fn tell_time(answer: &Answer) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    let secs = server_now(answer)
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    hyper::Response::builder()
        .header("Content-Type", "application/json")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(
            format!("{{\"now\": {secs}}}"),
        )))
        .unwrap()
}

fn respond(answer: &Answer) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    let mut response = hyper::Response::builder().status(answer.status);
    if let Some(build) = &answer.build {
        response = response.header("X-Build-Number", build);
    }
    if answer.clock_offset_secs.is_some() {
        response = response.header("Date", httpdate::fmt_http_date(server_now(answer)));
    }
    response
        .body(http_body_util::Full::new(hyper::body::Bytes::from_static(
            b"ok\n",
        )))
        .unwrap()
}
