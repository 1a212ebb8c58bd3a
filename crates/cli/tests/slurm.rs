//! The shipped Slurm job array on a real single-node Slurm cluster (Debian's `slurm-wlm` and
//! `munge`, started here as child processes on free ports): `sbatch --array=0-3
//! deploy/slurm/sweep.sbatch` runs a trend config's grid in four parts, `systrade merge`
//! puts them together, and the files equal, byte for byte, one process's sweep. Without
//! Slurm installed the test says so and passes — unless `SYSTRADE_REQUIRE_SLURM=1` (CI sets
//! it), where a missing Slurm fails it.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{read, run, s};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The cluster's daemons, stopped when the test ends (pass or fail).
struct Cluster {
    children: Vec<Child>,
    conf: PathBuf,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn hostname() -> String {
    let o = Command::new("hostname").arg("-s").output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// munged (unless one answers already), slurmctld and slurmd in the foreground, on free
/// ports, with their state under `dir`.
fn start(dir: &Path) -> Cluster {
    let mut children = Vec::new();
    let munge_ok = || {
        Command::new("sh")
            .args(["-c", "munge -n | unmunge"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !munge_ok() {
        let _ = std::fs::create_dir_all("/run/munge");
        let _ = Command::new("chown")
            .args(["munge:munge", "/run/munge"])
            .status();
        children.push(
            Command::new("munged")
                .args(["--foreground", "--force"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("munged"),
        );
        let t = Instant::now();
        while !munge_ok() {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "munged did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for d in ["state", "spool", "log"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let host = hostname();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let conf = dir.join("slurm.conf");
    std::fs::write(
        &conf,
        format!(
            "ClusterName=systrade\nSlurmctldHost={host}\nSlurmUser=root\nSlurmdUser=root\nAuthType=auth/munge\n\
             StateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\nSlurmctldPidFile={d}/slurmctld.pid\n\
             SlurmdPidFile={d}/slurmd.pid\nSlurmctldLogFile={d}/log/slurmctld.log\nSlurmdLogFile={d}/log/slurmd.log\n\
             SlurmctldPort={}\nSlurmdPort={}\nProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\nAccountingStorageType=accounting_storage/none\n\
             SchedulerType=sched/builtin\nSelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n\
             ReturnToService=2\nMpiDefault=none\nNodeName={host} CPUs={cpus} State=UNKNOWN\n\
             PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n",
            free_port(),
            free_port(),
            d = dir.display()
        ),
    )
    .unwrap();
    for daemon in ["slurmctld", "slurmd"] {
        children.push(
            Command::new(daemon)
                .args(["-D", "-f", s(&conf)])
                .env("SLURM_CONF", &conf)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("{daemon}: {e}")),
        );
    }
    let cluster = Cluster { children, conf };
    // Up when the node is idle.
    let t = Instant::now();
    loop {
        let o = Command::new("sinfo")
            .args(["-h", "-o", "%t"])
            .env("SLURM_CONF", &cluster.conf)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).trim() == "idle" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the Slurm node never became idle: {}{}",
            String::from_utf8_lossy(&o.stdout),
            read(&dir.join("log/slurmctld.log"))
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    cluster
}

#[test]
fn test_the_shipped_slurm_array_runs_a_sweep_in_four_parts_that_merge_into_the_one_process_files() {
    let tools = ["munged", "munge", "slurmctld", "slurmd", "sbatch", "sinfo"];
    if let Some(missing) = tools.iter().find(|t| !have(t)) {
        assert!(
            std::env::var("SYSTRADE_REQUIRE_SLURM").is_err(),
            "SYSTRADE_REQUIRE_SLURM is set but {missing} is not installed (apt-get install slurm-wlm munge)"
        );
        eprintln!("skipped: {missing} is not installed (apt-get install slurm-wlm munge)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(cfg) = common::trend_crypto_copy(dir.path()) else {
        return;
    };
    let grid = "signal.donchian_window=20..60:20,sizing.target_vol=0.15..0.25:0.1";
    let one = dir.path().join("one");
    let r = run(&[
        "sweep",
        "--config",
        s(&cfg),
        "--grid",
        grid,
        "--out",
        s(&one),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let cluster = start(&dir.path().join("slurm"));
    let parts = dir.path().join("parts");
    let out = Command::new("sbatch")
        .args([
            "--wait",
            "--array=0-3",
            "--cpus-per-task=1",
            s(&repo().join("deploy/slurm/sweep.sbatch")),
            s(&parts),
            "sweep",
            "--config",
            s(&cfg),
            "--grid",
            grid,
        ])
        .current_dir(dir.path())
        .env("SLURM_CONF", &cluster.conf)
        .env("SYSTRADE", assert_cmd::cargo::cargo_bin("systrade"))
        .output()
        .unwrap();
    let logs: String = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("systrade-sweep-")
        })
        .map(|e| read(&e.path()))
        .collect();
    assert!(
        out.status.success(),
        "sbatch: {}{}\n{logs}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(cluster);
    let mut names: Vec<String> = std::fs::read_dir(&parts)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [0, 1, 2, 3].map(|i| format!("part-000{i}-of-0004.json")),
        "{logs}"
    );
    let merged = dir.path().join("merged");
    let r = run(&["merge", s(&parts), "--out", s(&merged)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    common::same_sweep_files(&one, &merged);
}
