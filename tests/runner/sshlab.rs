//! Real OpenSSH hosts on loopback, for multi-host tests.
//!
//! Each host of an [`SshLab`] is its own `sshd` on its own 127.0.0.1 port,
//! run as its own Unix user made for the test, with its own HOME. A sshd
//! that is not root can only log in as the user it runs as: that is what
//! keeps the hosts apart. The tests run as root, so they may make users;
//! everything is undone when the lab is dropped, also after a panic, and a
//! run killed before it could clean up is swept by the next one.
//!
//! Layout of the lab's temp dir (0755, so that every host user can reach
//! what it must):
//!
//! ```text
//! bin/fleet, bin/fleet-stub   the binaries under test, for every host user
//! client, client.pub          the key the lab's ssh logs in with
//! ssh_config, known_hosts     for `ssh -F` (and `FLEET_SSH_CONFIG`)
//! host-NAME/                  a host, its user's, 0700: sshd_config, host
//!                             key, sshd.pid, sshd.log, and home/ (HOME)
//! ```
//!
//! A sshd that is not root: no PAM, no privilege separation, and no
//! /etc/shadow to read, so the locked password useradd leaves ("!") does
//! not lock the user out. It reads `~/.ssh/environment` (PermitUserEnvironment)
//! for the login env; `run` gives the same env without ssh.

#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use crate::common::{FLEET, STUB, wait_until};

const SSHD: &str = "/usr/sbin/sshd";
/// The GECOS field of every user a lab makes: how the sweep knows them.
const GECOS: &str = "fleet sshlab";
/// Lab dirs are `<tmp>/fleet-sshlab-XXXXXX`.
const DIR_PREFIX: &str = "fleet-sshlab-";
/// How long a sshd may take to accept `ssh`, and a stopped one to go.
const READY: Duration = Duration::from_secs(10);

static USER_COUNTER: AtomicUsize = AtomicUsize::new(0);
/// useradd and userdel lock the passwd files and fail rather than wait:
/// one at a time in this process (other processes: see `account`).
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// A set of sshd hosts on loopback; see the module doc.
pub struct SshLab {
    root: tempfile::TempDir,
    hosts: Vec<SshHost>,
    ssh_config: PathBuf,
}

/// One host of a lab: a sshd running as `user`, listening on
/// 127.0.0.1:`port`.
pub struct SshHost {
    pub name: String,
    pub user: String,
    pub port: u16,
    pub home: PathBuf,
    uid: u32,
    gid: u32,
    /// The host's own dir (sshd_config, keys, pid file, log).
    dir: PathBuf,
    /// The lab's `bin/`.
    bin: PathBuf,
    /// The sshd listener (run with -D, so this is its pid), while it runs.
    sshd: Mutex<Option<Child>>,
}

impl SshLab {
    /// Starts one host per name (names like "h1", "h2"), each ready to
    /// accept `ssh` before this returns (bounded wait, panics with the sshd
    /// log otherwise).
    pub fn new(names: &[&str]) -> SshLab {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install openssh-server (scripts/ensure-deps.sh tests)"
        );
        assert!(
            rustix::process::geteuid().is_root(),
            "SshLab makes users: the tests must run as root"
        );
        sweep_stale();
        let root = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir_in(traversable_tmp())
            .expect("create the lab's temp dir");
        chmod(root.path(), 0o755);
        let bin = root.path().join("bin");
        fs::create_dir(&bin).expect("create the lab's bin dir");
        chmod(&bin, 0o755);
        for exe in [FLEET, STUB] {
            let exe = Path::new(exe);
            let to = bin.join(exe.file_name().expect("a binary has a file name"));
            if fs::hard_link(exe, &to).is_err() {
                fs::copy(exe, &to)
                    .unwrap_or_else(|e| panic!("copy {} to {}: {e}", exe.display(), to.display()));
            }
            chmod(&to, 0o755);
        }
        let client = root.path().join("client");
        keygen(&client, "sshlab client");
        let mut lab = SshLab {
            ssh_config: root.path().join("ssh_config"),
            root,
            hosts: Vec::new(),
        };
        // Each host joins the lab as soon as its user exists, so that a
        // panic from here on still cleans it up (in drop).
        for name in names {
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "host name {name:?}: use letters, digits, - and _"
            );
            assert!(
                lab.hosts.iter().all(|h| h.name != *name),
                "host {name:?} twice"
            );
            let host = SshHost::create(lab.root.path(), name, &bin);
            lab.hosts.push(host);
            let host = lab.hosts.last_mut().expect("the host just pushed");
            host.setup(&client);
            host.start_on_a_free_port();
        }
        fs::write(&lab.ssh_config, lab.config_text()).expect("write the lab's ssh_config");
        lab
    }

    pub fn host(&self, name: &str) -> &SshHost {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .unwrap_or_else(|| panic!("no host {name:?} in this lab"))
    }

    pub fn hosts(&self) -> &[SshHost] {
        &self.hosts
    }

    /// An ssh_config file (for `ssh -F`) with one `Host NAME` entry per
    /// host, and a `Host *` entry with the key, known hosts file and batch
    /// mode also for destinations given as `USER@127.0.0.1 -p PORT`.
    pub fn ssh_config(&self) -> &Path {
        &self.ssh_config
    }

    /// The fleet-file blocks declaring every host.
    pub fn hosts_toml(&self) -> String {
        self.hosts.iter().map(SshHost::toml).collect()
    }

    /// Env a local `fleet` needs to use this lab.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "FLEET_SSH_CONFIG".to_string(),
            self.ssh_config.to_string_lossy().into_owned(),
        )]
    }

    fn config_text(&self) -> String {
        let root = self.root.path();
        let common = format!(
            "    IdentityFile \"{}\"\n    IdentitiesOnly yes\n    UserKnownHostsFile \"{}\"\n    GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking accept-new\n    BatchMode yes\n    LogLevel ERROR\n",
            root.join("client").display(),
            root.join("known_hosts").display(),
        );
        let mut out = String::new();
        for h in &self.hosts {
            out.push_str(&format!(
                "Host {}\n    HostName 127.0.0.1\n    Port {}\n    User {}\n{common}\n",
                h.name, h.port, h.user
            ));
        }
        out.push_str(&format!("Host *\n{common}"));
        out
    }
}

impl Drop for SshLab {
    fn drop(&mut self) {
        for host in &self.hosts {
            host.destroy();
        }
        // Whatever a host's processes wrote is theirs no longer: retry the
        // removal rather than race a straggler.
        let root = self.root.path().to_path_buf();
        let gone = wait_until(Duration::from_secs(5), || {
            fs::remove_dir_all(&root).is_ok() || !root.exists()
        });
        if !gone {
            eprintln!("sshlab: could not remove {}", root.display());
        }
    }
}

impl SshHost {
    /// Makes the host's user (only): nothing to clean up before this.
    fn create(root: &Path, name: &str, bin: &Path) -> SshHost {
        // Prefixed: a host called "bin" must not be the lab's bin dir.
        let dir = root.join(format!("host-{name}"));
        let home = dir.join("home");
        let user = make_user(&home);
        let (Some(uid), Some(gid)) = (id_of(&user, "-u"), id_of(&user, "-g")) else {
            remove_user(&user, u32::MAX);
            panic!("useradd {user} made a user `id` does not know");
        };
        SshHost {
            name: name.to_string(),
            user,
            port: 0,
            home,
            uid,
            gid,
            dir,
            bin: bin.to_path_buf(),
            sshd: Mutex::new(None),
        }
    }

    /// The host's dirs, keys and login environment.
    fn setup(&self, client: &Path) {
        let ssh_dir = self.home.join(".ssh");
        let tmux = self.home.join("tmux");
        for dir in [&self.dir, &self.home, &ssh_dir, &tmux] {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            chmod(dir, 0o700);
        }
        let hostkey = self.dir.join("hostkey");
        keygen(&hostkey, &format!("sshlab {}", self.name));
        let public = fs::read_to_string(client.with_extension("pub"))
            .expect("read the lab's client public key");
        fs::write(ssh_dir.join("authorized_keys"), public).expect("write authorized_keys");
        let env: String = self
            .login_env()
            .iter()
            .filter(|(k, _)| matches!(*k, "PATH" | "TMUX_TMPDIR" | "LANG"))
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect();
        fs::write(ssh_dir.join("environment"), env).expect("write ~/.ssh/environment");
        for path in [
            self.dir.clone(),
            hostkey.clone(),
            hostkey.with_extension("pub"),
            self.home.clone(),
            ssh_dir.clone(),
            ssh_dir.join("authorized_keys"),
            ssh_dir.join("environment"),
            tmux,
        ] {
            std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("sshd_config")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("sshd.log")
    }

    fn pid_path(&self) -> PathBuf {
        self.dir.join("sshd.pid")
    }

    fn write_config(&self) {
        let mut text = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/hostkey\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {home}/.ssh/authorized_keys\nUsePAM no\nStrictModes no\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitUserEnvironment yes\nPrintMotd no\nPrintLastLog no\nUseDNS no\n\
             Subsystem sftp internal-sftp\n",
            port = self.port,
            dir = self.dir.display(),
            home = self.home.display(),
        );
        if self.penalties_supported() {
            // OpenSSH 9.8+: every client is 127.0.0.1, and a test that
            // kills connections must not get the next one refused.
            text.push_str("PerSourcePenalties no\n");
        }
        let path = self.config_path();
        fs::write(&path, text).expect("write sshd_config");
        std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).expect("chown sshd_config");
    }

    /// Whether this sshd knows `PerSourcePenalties` (asked once).
    fn penalties_supported(&self) -> bool {
        static SUPPORTED: OnceLock<bool> = OnceLock::new();
        *SUPPORTED.get_or_init(|| {
            // As the host's user: as root, `sshd -t` wants privsep too.
            let dir = self.dir.join("probe");
            fs::create_dir_all(&dir).expect("create the probe dir");
            let config = dir.join("sshd_config");
            fs::write(
                &config,
                format!("HostKey {}/hostkey\nUsePAM no\n", self.dir.display()),
            )
            .expect("write the probe config");
            let ok = self
                .as_user(Command::new(SSHD))
                .args(["-t", "-f"])
                .arg(&config)
                .args(["-o", "PerSourcePenalties=no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            let _ = fs::remove_dir_all(&dir);
            ok
        })
    }

    /// A command run as this host's user, with only its login env.
    fn as_user(&self, mut cmd: Command) -> Command {
        // As root with a uid set, std also drops the supplementary groups.
        cmd.uid(self.uid)
            .gid(self.gid)
            .env_clear()
            .envs(self.login_env())
            .current_dir(&self.home)
            .stdin(Stdio::null());
        cmd
    }

    /// The env an ssh login of this host has (see `~/.ssh/environment`).
    fn login_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.home.to_string_lossy().into_owned()),
            ("USER", self.user.clone()),
            ("LOGNAME", self.user.clone()),
            ("SHELL", "/bin/sh".to_string()),
            (
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
            ),
            (
                "TMUX_TMPDIR",
                self.home.join("tmux").to_string_lossy().into_owned(),
            ),
            ("LANG", "C.UTF-8".to_string()),
        ]
    }

    /// First start: a free port, and another one if sshd could not bind it.
    fn start_on_a_free_port(&mut self) {
        let mut last = String::new();
        for _ in 0..5 {
            self.port = free_port();
            match self.try_start() {
                Ok(()) => return,
                Err(Failure::Bind(log)) => last = log,
                Err(Failure::Other(log)) => self.start_failed(&log),
            }
        }
        self.start_failed(&format!("no free port in 5 tries; last log:\n{last}"));
    }

    fn start_failed(&self, log: &str) -> ! {
        panic!(
            "sshd for host {} (user {}, port {}) did not start:\n{log}",
            self.name, self.user, self.port
        )
    }

    /// Starts sshd on `self.port` and waits until it is ready: it wrote its
    /// pid file (it does after binding the port: this sshd holds it, not
    /// someone else's that happened to take it) and sends its banner.
    fn try_start(&self) -> Result<(), Failure> {
        let mut slot = self.sshd.lock().unwrap_or_else(|e| e.into_inner());
        assert!(slot.is_none(), "host {}: sshd is running", self.name);
        self.write_config();
        let _ = fs::remove_file(self.pid_path());
        let stderr = fs::File::create(self.dir.join("sshd.stderr")).expect("create sshd.stderr");
        let mut sshd = self.as_user(Command::new(SSHD));
        // A sshd that is not root cannot give a pty to the tty group (it
        // would be fatal for `ssh -t`): run it in that group, so a pty it
        // opens is the tty group's already.
        if let Some(gid) = tty_gid() {
            sshd.gid(gid);
        }
        let mut child = sshd
            .arg("-D")
            .arg("-f")
            .arg(self.config_path())
            .arg("-E")
            .arg(self.log_path())
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {SSHD}: {e}"));
        let pid = child.id();
        let deadline = Instant::now() + READY;
        let mut ready = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            let pid_written = fs::read_to_string(self.pid_path())
                .is_ok_and(|s| s.trim().parse::<u32>().ok() == Some(pid));
            if pid_written && banner(self.port, Duration::from_secs(1)) {
                ready = matches!(child.try_wait(), Ok(None));
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if ready {
            *slot = Some(child);
            return Ok(());
        }
        let _ = child.kill();
        let _ = child.wait();
        let log = self.logs();
        if log.contains("Address already in use") || log.contains("Cannot bind any address") {
            Err(Failure::Bind(log))
        } else {
            Err(Failure::Other(log))
        }
    }

    /// sshd's log and whatever it wrote to stderr before it had one.
    fn logs(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let stderr = fs::read_to_string(self.dir.join("sshd.stderr")).unwrap_or_default();
        format!("--- sshd.log\n{log}--- stderr\n{stderr}")
    }

    /// The fleet-file block declaring this host.
    pub fn toml(&self) -> String {
        let ssh = toml::Value::String(self.destination());
        let fleet = toml::Value::String(self.fleet_path().to_string_lossy().into_owned());
        format!(
            "[hosts.{}]\nssh = {ssh}\nport = {}\nfleet = {fleet}\n\n",
            self.name, self.port
        )
    }

    /// `USER@127.0.0.1`: the destination for `ssh -p PORT`.
    pub fn destination(&self) -> String {
        format!("{}@127.0.0.1", self.user)
    }

    /// The remote user's `fleet` binary (in the lab's bin dir, on PATH).
    pub fn fleet_path(&self) -> PathBuf {
        self.bin.join("fleet")
    }

    fn listener(&self) -> Option<u32> {
        self.sshd
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Child::id)
    }

    /// SIGSTOPs the sshd listener: a hanging host (TCP connects, no
    /// banner). Sessions already open go on.
    pub fn pause(&self) {
        let pid = self
            .listener()
            .unwrap_or_else(|| panic!("{}: sshd is stopped", self.name));
        signal(pid, Signal::STOP);
    }

    /// SIGCONTs the sshd listener.
    pub fn resume(&self) {
        let pid = self
            .listener()
            .unwrap_or_else(|| panic!("{}: sshd is stopped", self.name));
        signal(pid, Signal::CONT);
    }

    /// Kills the sshd listener and everything below it (the sessions and
    /// their commands; not daemons such as tmux servers, which went to
    /// init): the port refuses afterwards.
    pub fn stop(&self) {
        let mut slot = self.sshd.lock().unwrap_or_else(|e| e.into_inner());
        let mut child = slot
            .take()
            .unwrap_or_else(|| panic!("{}: sshd is already stopped", self.name));
        kill_tree(child.id());
        let _ = child.wait();
        drop(slot);
        let refused = wait_until(READY, || {
            TcpStream::connect_timeout(&addr(self.port), Duration::from_millis(200)).is_err()
        });
        assert!(
            refused,
            "{}: port {} still accepts after stop",
            self.name, self.port
        );
    }

    /// Starts sshd again on the same port (after stop), and waits until it
    /// accepts.
    pub fn start(&self) {
        // sshd binds with SO_REUSEADDR: a port in TIME_WAIT is no obstacle,
        // only someone else's listener is.
        if let Err(Failure::Bind(log) | Failure::Other(log)) = self.try_start() {
            self.start_failed(&log);
        }
    }

    /// Runs argv as this host's user, with the env an ssh login has (HOME,
    /// USER, LOGNAME, SHELL, PATH with the lab's bin first, TMUX_TMPDIR,
    /// LANG), in its HOME, stdin null; not through ssh.
    pub fn run(&self, argv: &[&str]) -> Output {
        let (program, args) = argv.split_first().expect("run: an empty argv");
        self.as_user(Command::new(program))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: run {argv:?}: {e}", self.name))
    }

    /// Everything of the host's, gone: sshd, the user's processes, the
    /// user and its group. Never panics (it runs in drop).
    fn destroy(&self) {
        if let Some(mut child) = self.sshd.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        remove_user(&self.user, self.uid);
    }
}

enum Failure {
    /// sshd could not bind its port: try another.
    Bind(String),
    Other(String),
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A port nobody listens on right now (the kernel's pick).
fn free_port() -> u16 {
    TcpListener::bind(addr(0))
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Whether an ssh server answers on `port` with its banner within `timeout`.
fn banner(port: u16, timeout: Duration) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr(port), timeout) else {
        return false;
    };
    if stream.set_read_timeout(Some(timeout)).is_err() {
        return false;
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let deadline = Instant::now() + timeout;
    while got.len() < 4096 && Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
        if got.windows(8).any(|w| w == b"SSH-2.0-") {
            return true;
        }
    }
    false
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// A fresh ed25519 key at `path` (and `path.pub`), no passphrase.
fn keygen(path: &Path, comment: &str) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen (install openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The temp dir to put labs in: it must be traversable by the host users
/// all the way down; `/tmp` if TMPDIR is not.
fn traversable_tmp() -> PathBuf {
    let tmp = std::env::temp_dir();
    let ok = tmp
        .ancestors()
        .all(|dir| fs::metadata(dir).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if ok { tmp } else { PathBuf::from("/tmp") }
}

/// Runs useradd/userdel/groupdel, one at a time in this process, retrying
/// while another process holds the passwd lock. Returns the exit code of
/// the last try.
fn account(args: &[&str], retry_codes: &[i32]) -> (i32, String) {
    let _one = ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = (-1, String::new());
    for attempt in 0..50 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = match Command::new(args[0]).args(&args[1..]).output() {
            Ok(out) => out,
            Err(e) => return (-1, format!("run {}: {e}", args[0])),
        };
        let code = out.status.code().unwrap_or(-1);
        last = (code, String::from_utf8_lossy(&out.stderr).into_owned());
        if code == 0 || !retry_codes.contains(&code) {
            return last;
        }
    }
    last
}

/// Makes a user `fltPIDnN` with `home` (not created) and a group of its
/// own, and returns its name.
fn make_user(home: &Path) -> String {
    let home = home.to_str().expect("the lab's path is UTF-8");
    for _ in 0..20 {
        let n = USER_COUNTER.fetch_add(1, Ordering::SeqCst);
        let user = format!("flt{}n{n}", std::process::id());
        assert!(user.len() <= 32, "user name {user} too long");
        // useradd: 1 = could not lock or update the passwd files (another
        // process at it), 9 = the name is taken (a stale user of a pid
        // that ran before us and is not dead yet: take the next name).
        let (code, stderr) = account(
            &[
                "useradd", "-M", "-U", "-c", GECOS, "-d", home, "-s", "/bin/sh", &user,
            ],
            &[1, 10],
        );
        match code {
            0 => return user,
            9 => continue,
            _ => panic!("useradd {user}: exit {code}: {stderr}"),
        }
    }
    panic!("useradd: 20 names taken")
}

/// `id -u USER` or `id -g USER`.
fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn signal(pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// A process as /proc tells it.
struct Proc {
    ppid: u32,
    euid: u32,
    /// Dead and waiting for its parent to reap it. Orphans are reaped by
    /// pid 1, which may take its time (or, in a container without an
    /// init, forever): a zombie runs nothing and holds nothing.
    zombie: bool,
}

fn proc_info(pid: u32) -> Option<Proc> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|rest| {
                rest.split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
    };
    Some(Proc {
        ppid: field("PPid:")?.first()?.parse().ok()?,
        euid: field("Uid:")?.get(1)?.parse().ok()?,
        zombie: field("State:")?.first()? == "Z",
    })
}

/// Whether `pid` is gone or a zombie.
fn dead(pid: u32) -> bool {
    proc_info(pid).is_none_or(|p| p.zombie)
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// SIGKILLs `top` and all its descendants. Stopped first, so that none can
/// fork behind our back, and killed only then, when the tree is known.
fn kill_tree(top: u32) {
    signal(top, Signal::STOP);
    let mut tree = vec![top];
    for _ in 0..20 {
        let found: Vec<u32> = all_pids()
            .into_iter()
            .filter(|p| !tree.contains(p))
            .filter(|p| proc_info(*p).is_some_and(|i| tree.contains(&i.ppid)))
            .collect();
        if found.is_empty() {
            break;
        }
        for pid in &found {
            signal(*pid, Signal::STOP);
        }
        tree.extend(found);
    }
    for pid in &tree {
        signal(*pid, Signal::KILL);
    }
    let gone = wait_until(Duration::from_secs(5), || tree.iter().all(|p| dead(*p)));
    if !gone {
        eprintln!("sshlab: SIGKILLed processes still alive: {tree:?}");
    }
}

/// Pids of the live processes that run as `uid` (zombies left out).
fn pids_of(uid: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|p| proc_info(*p).is_some_and(|i| i.euid == uid && !i.zombie))
        .collect()
}

/// Kills every process of the user, then deletes the user and its group.
/// Never panics; says on stderr what it could not do.
fn remove_user(user: &str, uid: u32) {
    let gone = wait_until(Duration::from_secs(5), || {
        let pids = pids_of(uid);
        for pid in &pids {
            signal(*pid, Signal::KILL);
        }
        pids.is_empty()
    });
    if !gone {
        eprintln!(
            "sshlab: processes of {user} still there: {:?}",
            pids_of(uid)
        );
    }
    // -f: zombies of the user's may wait for pid 1 to reap them, and
    // userdel counts them as the user's processes. 1 and 10 = could not
    // lock or update the passwd or group files.
    let (code, stderr) = account(&["userdel", "-f", user], &[1, 10]);
    if code != 0 && code != 6 {
        eprintln!("sshlab: userdel {user}: exit {code}: {stderr}");
    }
    // userdel removes the user's group when USERGROUPS_ENAB says so.
    let group_left = Command::new("getent")
        .args(["group", user])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if group_left {
        let (code, stderr) = account(&["groupdel", user], &[10]);
        if code != 0 {
            eprintln!("sshlab: groupdel {user}: exit {code}: {stderr}");
        }
    }
}

/// Removes what labs of dead processes left (a test run killed before it
/// could drop its labs): their users, processes and dirs. Once per run.
fn sweep_stale() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let Ok(passwd) = fs::read_to_string("/etc/passwd") else {
            return;
        };
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 || f[4] != GECOS {
                continue;
            }
            let (user, home) = (f[0], Path::new(f[5]));
            let Some(pid) = user
                .strip_prefix("flt")
                .and_then(|rest| rest.split('n').next())
                .and_then(|pid| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            let Ok(uid) = f[2].parse::<u32>() else {
                continue;
            };
            eprintln!("sshlab: removing {user}, left by process {pid}");
            remove_user(user, uid);
            // home is LAB/host-NAME/home.
            if let Some(lab) = home.ancestors().nth(2).filter(|lab| {
                lab.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(DIR_PREFIX))
            }) {
                let _ = fs::remove_dir_all(lab);
            }
        }
    });
}

/// The `tty` group's id, from /etc/group.
fn tty_gid() -> Option<u32> {
    fs::read_to_string("/etc/group")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("tty:")?.split(':').nth(1)?.parse().ok())
}
