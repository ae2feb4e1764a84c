//! The server's malloc tuning. glibc starts with a 128 KiB mmap threshold but raises it to the size of every
//! mmapped block freed, up to 32 MiB: after the first decoded scan (tens of MB) or request body is freed, such
//! blocks come from per-thread arenas (up to 8 per core) that keep their freed tops: a flood of uploads left
//! the server at 370 MB, against 170 MB with the threshold pinned (docs/benchmarks.md). Pinning the threshold keeps large blocks
//! in mappings of their own, returned to the system when freed.
//!
//! glibc reads its tunables only when a process starts, and `mallopt` would need `unsafe`, which the workspace
//! forbids; so `serve` re-executes itself once with `GLIBC_TUNABLES` set. mimalloc (v2 and v3, defaults) was
//! measured too and kept 350–400 MB in the same flood.

/// Where glibc looks for its tunables.
const VAR: &str = "GLIBC_TUNABLES";
/// Blocks of 256 KiB and more get their own mapping, whatever was freed before.
const TUNABLES: &str = "glibc.malloc.mmap_threshold=262144";

/// Re-executes this process with [`TUNABLES`], unless `GLIBC_TUNABLES` is already set (by an earlier pass, or by
/// an operator who chose their own). Returns only if it did not re-execute; with a warning for the log if it
/// tried and could not, in which case glibc's defaults stand.
pub fn tune_or_reexec() -> Option<String> {
    if std::env::var_os(VAR).is_some() || !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return None;
    }
    reexec()
}

#[cfg(target_os = "linux")]
fn reexec() -> Option<String> {
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "sealdesk".into());
    // /proc/self/exe still runs this binary if its file was replaced on disk since it started.
    let e = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env(VAR, TUNABLES)
        .exec();
    Some(format!(
        "malloc not tuned ({VAR} unset, re-executing failed: {e}); memory under load may stay high"
    ))
}

#[cfg(not(target_os = "linux"))]
fn reexec() -> Option<String> {
    None
}
