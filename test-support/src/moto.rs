//! The moto server (installed by `scripts/setup`) as a child process on a free 127.0.0.1 port:
//! CloudFormation, EC2, SSM and the rest for asg-deploy's tests, and S3 features that s3s-fs
//! lacks (object versions) for fetch's.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server owned by one test; killed when dropped.
pub struct MotoProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl MotoProcess {
    /// `moto_server` itself.
    pub fn start() -> MotoProcess {
        Self::launch(|port| {
            let mut cmd = Command::new("moto_server");
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            cmd
        })
    }

    /// Runs `command(port)` (moto, or a script that starts it) and waits until the port accepts
    /// connections.
    pub fn launch(command: impl FnOnce(u16) -> Command) -> MotoProcess {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = command(port)
            .env("MOTO_ACM_VALIDATION_WAIT", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto is missing: run scripts/setup (pip install \"moto[server]\")");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        MotoProcess {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
