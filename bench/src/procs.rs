//! Processes: starting a server pinned to a core, stopping it by its PID
//! (also when the bench fails half-way), and reading its CPU time and
//! resident memory from `/proc`.

use std::collections::HashMap;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::client::Conn;

/// Which cores the servers and the load generator use.
#[derive(Debug, Clone, Copy)]
pub struct Cores {
    pub server: Option<usize>,
    pub loadgen: Option<usize>,
}

impl Cores {
    /// Server on core 0, load generator on core 1, when the machine has two
    /// cores and `taskset` exists; no pinning otherwise.
    pub fn detect(server: usize, loadgen: usize) -> Cores {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let online = online_cpus();
        if taskset && cpus >= 2 && online > server.max(loadgen) && server != loadgen {
            Cores {
                server: Some(server),
                loadgen: Some(loadgen),
            }
        } else {
            Cores {
                server: None,
                loadgen: None,
            }
        }
    }
}

/// CPUs online on the machine (not just the ones this process may use).
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if n > 0 { n as usize } else { 1 }
}

/// Pin the calling thread (and the threads it starts later) to `core`.
pub fn pin_self(core: usize) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes
    // within it for core < CPU_SETSIZE, which is checked.
    unsafe {
        if core >= libc::CPU_SETSIZE as usize {
            bail!("core {core} is out of range");
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            bail!(
                "sched_setaffinity({core}): {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// Raise the soft limit on open files to the hard limit. Children inherit
/// it. Returns the new soft limit.
pub fn raise_nofile() -> Result<u64> {
    // SAFETY: getrlimit/setrlimit write/read the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            bail!("getrlimit: {}", std::io::Error::last_os_error());
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                bail!("setrlimit: {}", std::io::Error::last_os_error());
            }
        }
        Ok(lim.rlim_cur)
    }
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
pub fn free_port() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding a probe port")?;
    Ok(l.local_addr()?)
}

/// A server process. Dropping it stops the process by its PID: SIGTERM,
/// then SIGKILL after a grace period, then reaps it.
pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    pub log: PathBuf,
    child: Option<Child>,
    /// 0 for a server this process did not start and whose PID is unknown.
    pid: u32,
}

impl Server {
    /// Start `program args…` pinned to `core` (through `taskset -c`), with
    /// stdout and stderr in `log`, in `cwd`, and an environment without
    /// `A2A_HOST_*` and `RUST_LOG`. The child is killed if the bench dies.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        core: Option<usize>,
        addr: SocketAddr,
        cwd: &Path,
        log: &Path,
    ) -> Result<Server> {
        let mut cmd = match core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args).current_dir(cwd).stdin(Stdio::null());
        for (key, _) in std::env::vars_os() {
            let k = key.to_string_lossy();
            if k.starts_with("A2A_HOST_") || k == "RUST_LOG" {
                cmd.env_remove(&key);
            }
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdout(out.try_clone()?).stderr(out);
        // SAFETY: prctl is async-signal-safe; it only sets this child's
        // parent-death signal (kept across exec, so it also covers the
        // program taskset execs).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let pid = child.id();
        Ok(Server {
            name: name.to_string(),
            addr,
            log: log.to_path_buf(),
            child: Some(child),
            pid,
        })
    }

    /// A server started elsewhere (never stopped by this handle). Without a
    /// PID its CPU time and memory read as zero.
    pub fn external(addr: SocketAddr, pid: Option<u32>) -> Server {
        Server {
            name: addr.to_string(),
            addr,
            log: PathBuf::new(),
            child: None,
            pid: pid.unwrap_or(0),
        }
    }

    /// Wait until `GET path` answers 200; fails if the process exits or
    /// `timeout` passes. Returns the time it took from now.
    pub async fn wait_ready(&mut self, path: &str, timeout: Duration) -> Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "{} exited ({status}) before it was ready; log: {}\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log)
                );
            }
            if let Ok(mut conn) = Conn::open(self.addr).await
                && let Ok((status, _)) = conn.get(path).await
                && status.is_success()
            {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{} not ready after {timeout:?}; log: {}\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// User + system CPU time of the whole process so far.
    pub fn cpu(&self) -> Result<Duration> {
        if self.pid == 0 {
            return Ok(Duration::ZERO);
        }
        process_cpu(self.pid)
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> Result<u64> {
        if self.pid == 0 {
            return Ok(0);
        }
        process_rss(self.pid)
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Stop the process (SIGTERM, then SIGKILL after `grace`) and reap it.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        let pid = self.pid as libc::pid_t;
        // SAFETY: signalling our own child, which has not been reaped yet
        // (so the PID is still ours).
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

/// utime + stime of `pid` from `/proc/PID/stat` (all threads, living and
/// exited).
pub fn process_cpu(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces; fields after it are
    // separated by single spaces. utime and stime are fields 14 and 15.
    let after = stat
        .rfind(')')
        .map(|i| &stat[i + 2..])
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = after.split(' ').collect();
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    let ticks = utime + stime;
    Ok(Duration::from_nanos(ticks * 1_000_000_000 / clock_ticks()))
}

/// Every process whose command name (`/proc/PID/comm`, e.g. `postgres`,
/// `redis-server`) is `comm`, whoever started it: a service that is not
/// this bench's child but does work per task.
#[derive(Debug, Clone)]
pub struct ProcessGroup {
    /// The name the figures are reported under.
    pub name: String,
    pub comm: String,
}

impl ProcessGroup {
    pub fn new(name: &str, comm: &str) -> ProcessGroup {
        ProcessGroup {
            name: name.to_string(),
            comm: comm.to_string(),
        }
    }

    /// CPU time so far of each process of the group, by PID.
    pub fn snapshot(&self) -> HashMap<u32, Duration> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return HashMap::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim_end() == self.comm)
            })
            .filter_map(|pid| Some((pid, process_cpu(pid).ok()?)))
            .collect()
    }
}

/// CPU the group used between two snapshots: a process that started in
/// between counts whole, one that exited in between is lost (its last
/// reading is gone with it).
pub fn group_cpu_between(
    before: &HashMap<u32, Duration>,
    after: &HashMap<u32, Duration>,
) -> Duration {
    after
        .iter()
        .map(|(pid, cpu)| cpu.saturating_sub(before.get(pid).copied().unwrap_or_default()))
        .sum()
}

/// VmRSS of `pid`, in bytes.
pub fn process_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmRSS")?
        .parse()?;
    Ok(kb * 1024)
}

/// Busy time of one core so far (every state but idle and iowait), from
/// `/proc/stat`: whatever ran there, the server or anyone else.
pub fn core_busy(core: usize) -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let name = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .with_context(|| format!("no {name} in /proc/stat"))?;
    let f: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| f.get(i)).sum();
    Ok(Duration::from_nanos(busy * 1_000_000_000 / clock_ticks()))
}

/// CPU time of this process so far (user + system).
pub fn self_cpu() -> Duration {
    // SAFETY: getrusage writes into the struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, (t.tv_usec as u32) * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time of the calling thread so far.
pub fn thread_cpu() -> Duration {
    // SAFETY: clock_gettime writes into the struct we pass.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_and_memory() {
        let pid = std::process::id();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_rss(pid).unwrap() > 0);
        process_cpu(pid).unwrap();
        assert!(self_cpu() > Duration::ZERO);
    }

    #[test]
    fn finds_a_process_group_by_command_name() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let group = ProcessGroup::new("self", comm.trim_end());
        let before = group.snapshot();
        assert!(before.contains_key(&std::process::id()));
        let mut after = before.clone();
        after.insert(u32::MAX, Duration::from_millis(5));
        assert_eq!(group_cpu_between(&before, &after), Duration::from_millis(5));
    }
}
