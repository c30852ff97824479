//! An external accuracy evaluator: a user command that scores candidates, so a user's own
//! PyTorch/GPU pipeline plugs into the search.
//!
//! Protocol (JSON lines, UTF-8): rnc starts `sh -c CMD` once per search and keeps it running.
//! For every generation it writes one line per candidate to the command's stdin,
//! `{"id":17,"genome":{"ks":[…16],"e":[…16],"d":[…4]}}`, and waits for one answer per
//! candidate on its stdout, `{"id":17,"accuracy":0.91}` (a fraction in 0..=1, any order,
//! flushed per line). Logs belong on stderr: any other stdout line is an error. rnc closes
//! stdin when the search ends. No answer within the timeout, a malformed answer, an unknown
//! id or an exit before every candidate is answered is an error naming the candidate and
//! quoting the end of the command's stderr.

use super::{AccuracySource, Candidate};
use anyhow::{Context, anyhow};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// Bytes of the evaluator's stderr kept for error messages.
const TAIL_BYTES: usize = 4096;
/// Lines of that tail quoted in an error.
const TAIL_LINES: usize = 12;

enum Out {
    Line(String),
    Eof,
    Failed(String),
}

struct Running {
    child: Child,
    to_stdin: Option<mpsc::Sender<Vec<u8>>>,
    from_stdout: mpsc::Receiver<Out>,
    stderr_tail: Arc<Mutex<Vec<u8>>>,
    stderr_done: Arc<AtomicBool>,
}

/// Accuracy from a user command speaking the JSON-lines protocol above.
pub struct ExternalEvaluator {
    cmd: String,
    timeout: Duration,
    stderr_log: Option<PathBuf>,
    running: Option<Running>,
}

impl ExternalEvaluator {
    /// `timeout`: the longest wait for any one answer. `stderr_log`: a file that receives
    /// the command's whole stderr (appended), besides the tail kept for errors.
    pub fn new(
        cmd: &str,
        timeout: Duration,
        stderr_log: Option<PathBuf>,
    ) -> anyhow::Result<ExternalEvaluator> {
        if cmd.trim().is_empty() {
            anyhow::bail!("--accuracy external:CMD needs a command after 'external:'");
        }
        Ok(ExternalEvaluator {
            cmd: cmd.to_string(),
            timeout,
            stderr_log,
            running: None,
        })
    }

    fn start(&mut self) -> anyhow::Result<&mut Running> {
        if self.running.is_none() {
            let mut command = Command::new("sh");
            command
                .arg("-c")
                .arg(&self.cmd)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            #[cfg(unix)]
            {
                // Own process group, so a timeout can stop the command's children too
                // (data-loader workers and the like).
                use std::os::unix::process::CommandExt;
                command.process_group(0);
            }
            let mut child = command
                .spawn()
                .with_context(|| format!("cannot start external evaluator '{}'", self.cmd))?;
            let stdin = child
                .stdin
                .take()
                .ok_or_else(|| anyhow!("evaluator stdin missing"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| anyhow!("evaluator stdout missing"))?;
            let stderr = child
                .stderr
                .take()
                .ok_or_else(|| anyhow!("evaluator stderr missing"))?;
            let (to_stdin, stdin_rx) = mpsc::channel::<Vec<u8>>();
            // A writer thread, so a command that stops reading cannot block the search past
            // its timeout.
            std::thread::spawn(move || write_stdin(stdin, stdin_rx));
            let (out_tx, from_stdout) = mpsc::channel();
            std::thread::spawn(move || read_stdout(stdout, out_tx));
            let stderr_tail = Arc::new(Mutex::new(Vec::new()));
            let stderr_done = Arc::new(AtomicBool::new(false));
            let log = match &self.stderr_log {
                Some(p) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .with_context(|| format!("cannot open evaluator log {}", p.display()))?,
                ),
                None => None,
            };
            let (tail, done) = (stderr_tail.clone(), stderr_done.clone());
            std::thread::spawn(move || read_stderr(stderr, log, tail, done));
            self.running = Some(Running {
                child,
                to_stdin: Some(to_stdin),
                from_stdout,
                stderr_tail,
                stderr_done,
            });
        }
        self.running
            .as_mut()
            .ok_or_else(|| anyhow!(crate::error::Internal("evaluator not running".into())))
    }

    /// The last lines of the command's stderr, for error messages.
    fn stderr_tail(&self) -> String {
        let Some(r) = &self.running else {
            return String::new();
        };
        // Give the stderr reader a moment to drain what a crashing command printed last.
        let until = Instant::now() + Duration::from_millis(500);
        while !r.stderr_done.load(Ordering::Acquire) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        let bytes = r.stderr_tail.lock().map(|b| b.clone()).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        if lines.is_empty() {
            return "; its stderr was empty".into();
        }
        let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
        format!("; end of its stderr:\n  | {}", tail.join("\n  | "))
    }

    /// Stops the command (and its process group) and forgets it.
    fn stop(&mut self) {
        if let Some(mut r) = self.running.take() {
            kill_group(&mut r.child);
            let _ = r.child.wait();
        }
    }

    /// Waits briefly for the exited command's status.
    fn exit_status(&mut self) -> String {
        let Some(r) = &mut self.running else {
            return "exited".into();
        };
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            match r.child.try_wait() {
                Ok(Some(s)) => return format!("exited ({s})"),
                Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
                _ => return "closed its stdout".into(),
            }
        }
    }

    fn fail(&mut self, msg: String) -> anyhow::Error {
        let tail = self.stderr_tail();
        self.stop();
        anyhow!("external evaluator '{}' {msg}{tail}", self.cmd)
    }
}

fn describe(c: &Candidate) -> String {
    format!("candidate {} (genome {})", c.id, c.genome.canonical())
}

fn write_stdin(mut stdin: ChildStdin, rx: mpsc::Receiver<Vec<u8>>) {
    for chunk in rx {
        if stdin.write_all(&chunk).and_then(|_| stdin.flush()).is_err() {
            // The command exited; the stdout reader reports it.
            return;
        }
    }
}

fn read_stdout(stdout: impl Read, tx: mpsc::Sender<Out>) {
    let mut r = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        let msg = match r.read_line(&mut line) {
            Ok(0) => Out::Eof,
            Ok(_) => Out::Line(line),
            Err(e) => Out::Failed(e.to_string()),
        };
        let last = !matches!(msg, Out::Line(_));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

fn read_stderr(
    mut stderr: impl Read,
    mut log: Option<std::fs::File>,
    tail: Arc<Mutex<Vec<u8>>>,
    done: Arc<AtomicBool>,
) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(f) = &mut log {
            let _ = f.write_all(&buf[..n]);
        }
        if let Ok(mut t) = tail.lock() {
            t.extend_from_slice(&buf[..n]);
            let excess = t.len().saturating_sub(TAIL_BYTES);
            t.drain(..excess);
        }
    }
    done.store(true, Ordering::Release);
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group the command leads
        // (created with process_group(0) at spawn); no memory is touched.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

/// One answer line parsed: `(id, accuracy value as given)`.
pub(crate) fn parse_answer(line: &str) -> Result<(u64, serde_json::Value), String> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let id = obj
        .get("id")
        .and_then(|i| i.as_u64())
        .ok_or("no integer \"id\"")?;
    let acc = obj.get("accuracy").cloned().unwrap_or(serde_json::Value::Null);
    Ok((id, acc))
}

fn quote(line: &str) -> String {
    let t = line.trim_end();
    if t.chars().count() > 200 {
        format!("'{}…'", t.chars().take(200).collect::<String>())
    } else {
        format!("'{t}'")
    }
}

impl AccuracySource for ExternalEvaluator {
    fn name(&self) -> String {
        format!("external:{}", self.cmd)
    }

    fn evaluate(&mut self, batch: &[Candidate]) -> anyhow::Result<Vec<f64>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut text = Vec::new();
        for c in batch {
            // Written by hand to keep "id" first, which simple line-based evaluators rely on.
            let genome = serde_json::to_string(&c.genome.canonical())?;
            writeln!(text, "{{\"id\":{},\"genome\":{genome}}}", c.id)?;
        }
        let timeout = self.timeout;
        let r = self.start()?;
        if let Some(tx) = &r.to_stdin {
            // A send error means the writer saw the command exit; the reader reports it.
            let _ = tx.send(text);
        }
        let mut pending: BTreeMap<u64, usize> = batch.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        let mut out = vec![f64::NAN; batch.len()];
        while let Some((_, &first)) = pending.first_key_value() {
            let more = match pending.len() {
                1 => String::new(),
                n => format!(" and {} more", n - 1),
            };
            let waiting = format!("{}{more}", describe(&batch[first]));
            let msg = match self.running.as_mut().map(|r| r.from_stdout.recv_timeout(timeout)) {
                Some(Ok(m)) => m,
                Some(Err(mpsc::RecvTimeoutError::Timeout)) => {
                    return Err(self.fail(format!(
                        "gave no answer within {} s (--eval-timeout) for {waiting}",
                        timeout.as_secs_f64()
                    )));
                }
                Some(Err(mpsc::RecvTimeoutError::Disconnected)) | None => Out::Eof,
            };
            let line = match msg {
                Out::Line(l) => l,
                Out::Eof => {
                    let status = self.exit_status();
                    return Err(self.fail(format!("{status} before answering {waiting}")));
                }
                Out::Failed(e) => {
                    return Err(self.fail(format!("could not be read ({e}) while waiting for {waiting}")));
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            let (id, acc) = match parse_answer(line.trim()) {
                Ok(a) => a,
                Err(why) => {
                    return Err(self.fail(format!(
                        "printed {} on stdout while {waiting} awaited an answer: {why}; expected \
                         {{\"id\":…,\"accuracy\":…}} (print logs to stderr)",
                        quote(&line)
                    )));
                }
            };
            let Some(i) = pending.remove(&id) else {
                let known = batch.iter().any(|c| c.id == id);
                let why = if known {
                    "answered twice"
                } else {
                    "not in this batch"
                };
                return Err(self.fail(format!(
                    "answered for id {id}, which is {why}, while {waiting} awaited an answer: {}",
                    quote(&line)
                )));
            };
            match acc.as_f64() {
                Some(a) if a.is_finite() && (0.0..=1.0).contains(&a) => out[i] = a,
                _ => {
                    return Err(self.fail(format!(
                        "gave accuracy {acc} for {}: expected a fraction in 0..=1",
                        describe(&batch[i])
                    )));
                }
            }
        }
        Ok(out)
    }
}

impl Drop for ExternalEvaluator {
    fn drop(&mut self) {
        if let Some(r) = &mut self.running {
            // Closing stdin asks the command to finish; give it a moment before stopping it.
            r.to_stdin = None;
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until {
                if let Ok(Some(_)) = r.child.try_wait() {
                    self.running = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ofa::Genome;

    fn batch(ids: &[u64]) -> Vec<Candidate> {
        ids.iter()
            .map(|&id| Candidate {
                id,
                genome: Genome::smallest(),
            })
            .collect()
    }

    fn eval(cmd: &str, ids: &[u64]) -> anyhow::Result<Vec<f64>> {
        ExternalEvaluator::new(cmd, Duration::from_secs(2), None)?.evaluate(&batch(ids))
    }

    // Answers every line with accuracy id/100 using only the POSIX shell.
    const ECHO_ID: &str = r#"while IFS= read -r l; do id=${l#*\"id\":}; id=${id%%,*}; echo "{\"id\":$id,\"accuracy\":0.$id}"; done"#;

    #[test]
    fn answers_in_any_order_across_batches() {
        let mut ev = ExternalEvaluator::new(ECHO_ID, Duration::from_secs(5), None).unwrap();
        assert_eq!(ev.evaluate(&batch(&[12, 34])).unwrap(), vec![0.12, 0.34]);
        // The same process serves the next generation.
        assert_eq!(ev.evaluate(&batch(&[56])).unwrap(), vec![0.56]);
        assert!(ev.evaluate(&[]).unwrap().is_empty());
        assert_eq!(ev.name(), format!("external:{ECHO_ID}"));
    }

    #[test]
    fn crash_names_candidate_and_stderr() {
        let e = eval("read l; echo 'CUDA out of memory' >&2; exit 3", &[7])
            .unwrap_err()
            .to_string();
        assert!(e.contains("candidate 7"), "{e}");
        assert!(e.contains("CUDA out of memory"), "{e}");
        assert!(e.contains("exit status: 3"), "{e}");
    }

    #[test]
    fn hang_times_out() {
        let mut ev =
            ExternalEvaluator::new("echo loading >&2; sleep 30", Duration::from_millis(300), None).unwrap();
        let t = Instant::now();
        let e = ev.evaluate(&batch(&[3])).unwrap_err().to_string();
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(e.contains("no answer within 0.3 s"), "{e}");
        assert!(e.contains("candidate 3"), "{e}");
        assert!(e.contains("loading"), "{e}");
    }

    #[test]
    fn junk_and_bad_answers_are_errors() {
        let e = eval("read l; echo hello", &[5]).unwrap_err().to_string();
        assert!(e.contains("printed 'hello'") && e.contains("candidate 5"), "{e}");
        let e = eval(r#"read l; echo '{"id":5,"accuracy":91}'"#, &[5])
            .unwrap_err()
            .to_string();
        assert!(e.contains("accuracy 91") && e.contains("candidate 5"), "{e}");
        let e = eval(r#"read l; echo '{"id":5}'"#, &[5]).unwrap_err().to_string();
        assert!(e.contains("accuracy null"), "{e}");
        let e = eval(r#"read l; echo '{"id":9,"accuracy":0.5}'"#, &[5])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("id 9") && e.contains("not in this batch") && e.contains("candidate 5"),
            "{e}"
        );
    }

    #[test]
    fn missing_id_is_named() {
        // Answers the first candidate only, then exits.
        let cmd = r#"read l; echo '{"id":1,"accuracy":0.5}'; read l; read l"#;
        let e = eval(cmd, &[1, 2, 3]).unwrap_err().to_string();
        assert!(
            e.contains("before answering candidate 2") && e.contains("1 more"),
            "{e}"
        );
    }
}
