//! A throwaway PostgreSQL for the test run: `initdb` into a temporary folder, `postgres` on a
//! free port with its socket in that folder, one database per test; stopped and removed when
//! the test binary exits.
//!
//! PostgreSQL refuses to run as root (tests do, here and in CI): then the server runs as the
//! `postgres` user. Without `initdb` the tests fail, saying what to install: a skipped test
//! would pass a suite that checked nothing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The running cluster.
struct Cluster {
    port: u16,
    /// The shell that stops the server after us (never waited for: it outlives us).
    _watchdog: std::process::Child,
}

/// Where PostgreSQL's programs are: on `PATH`, else where Debian's `postgresql` package puts
/// them (`/usr/lib/postgresql/VERSION/bin`, not on `PATH`), the newest version first.
fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|dir| dir.join("initdb").is_file()));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop()
}

/// `true` when the tests run as root (PostgreSQL then runs as `postgres`).
fn as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run `id -u`");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `program args…` as the user PostgreSQL runs as.
fn pg_command(bin: &Path, program: &str, root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster)
}

fn start_cluster() -> Cluster {
    let bin = bin_dir().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's `initdb` was found neither on PATH nor in /usr/lib/postgresql/*/bin: \
             the PostgreSQL tests need it. Install it (Debian: `apt-get install postgresql`, \
             which `./scripts/test` does) and run the tests again."
        )
    });
    let root = as_root();
    // Not a `TempDir`: it must outlive every test, and the watchdog below removes it.
    let dir =
        std::env::temp_dir().join(format!("faqbot-pg-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("create the PostgreSQL folder");
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown the PostgreSQL folder to postgres");
    }
    let data = dir.join("data");
    let out = pg_command(&bin, "initdb", root)
        .args(["-D"])
        .arg(&data)
        .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    // The server lives as long as this test process: a shell watches our pid and stops the
    // server (fast shutdown) and removes its folder once we are gone, however we end.
    let script = format!(
        r#"{postgres} -D {data} -p {port} -k {dir} -h 127.0.0.1 -c max_connections=400 -c fsync=on >{dir}/log 2>&1 &
pg=$!
while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done
kill -INT $pg 2>/dev/null
wait $pg
rm -rf {dir}"#,
        postgres = bin.join("postgres").display(),
        data = data.display(),
        dir = dir.display(),
        parent = std::process::id(),
    );
    let mut watchdog = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", &script]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", &script]);
        c
    };
    let watchdog = watchdog
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "PostgreSQL did not start in 30 s: see {}/log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Cluster {
        port,
        _watchdog: watchdog,
    }
}

/// A fresh, empty database on the test cluster; returns its URL.
pub async fn database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let port = tokio::task::spawn_blocking(|| cluster().port)
        .await
        .expect("start the cluster");
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    // The server accepts TCP a moment before it accepts logins.
    let started = Instant::now();
    let (client, connection) = loop {
        match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
            Ok(c) => break c,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("cannot connect to the test PostgreSQL: {e}"),
        }
    };
    let driver = tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    drop(client);
    let _ = driver.await;
    format!("postgres://postgres@127.0.0.1:{port}/{name}")
}
