//! Running one test alone in a child process of the test binary, for tests
//! that measure or change what belongs to the whole process (its resident
//! memory, the allocator's settings) while the rest of the suite runs in
//! threads of the parent.

use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// Set in the child: the name of the test it runs.
const CHILD: &str = "A2A_HOST_TEST_ALONE";

/// Whether this process is such a child.
pub fn is_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

/// For the test `name` (its libtest path, e.g. `hostile::hostile_cpu_loop`):
/// in the child that runs it, `true` (the caller goes on with the test);
/// otherwise runs the test in such a child, fails if it fails, and returns
/// `false` (the caller returns).
///
/// One child runs at a time, so that they do not measure each other. The
/// guests are built first; the child builds nothing.
pub fn alone(name: &str) -> bool {
    if std::env::var(CHILD).as_deref() == Ok(name) {
        return true;
    }
    static ONE: Mutex<()> = Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(PoisonError::into_inner);
    super::guests::build_all();
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD, name)
        .stdin(Stdio::null())
        .output()
        .expect("run the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprint!("{stderr}");
    // A name that matches no test would pass with `0 passed`.
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name}, run alone in a child process, failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    false
}
