//! The `a2a-host` binary as a child process: `serve` until it logs its URL,
//! with its log kept for failure messages, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// `a2a-host`, as cargo built it for these tests.
pub fn a2a_host() -> Command {
    Command::new(env!("CARGO_BIN_EXE_a2a-host"))
}

/// A running `a2a-host serve`, killed on drop.
pub struct Serve {
    child: Child,
    /// `http://127.0.0.1:PORT`, as it logged it.
    pub base: String,
    log: Arc<Mutex<String>>,
}

impl Serve {
    /// Runs `cmd` (an `a2a-host serve`, see [`a2a_host`]) until it logs its
    /// URL.
    pub fn start(mut cmd: Command) -> Serve {
        let mut child = cmd
            .env("A2A_HOST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a2a-host");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("url=http://") {
                    let url: String = line[i + 4..]
                        .chars()
                        .take_while(|c| !c.is_whitespace())
                        .collect();
                    let _ = tx.send(url);
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("a2a-host did not start:\n{}", log.lock().unwrap());
            }
        };
        Serve { child, base, log }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM: drain, then exit.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for it to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "a2a-host did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no drain, no goodbye.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
