//! The request's wire format between vigild and a helper: a [`Launch`] without its fds
//! (those travel as `SCM_RIGHTS`), strings as length-prefixed bytes, numbers as i64.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use std::ffi::c_int;

use crate::process::controls::ChildControls;
use crate::process::launch::{Identity, Launch};

/// Serialises everything but the fds: strings as length-prefixed bytes, numbers as i64.
pub(super) fn encode(plan: &Launch) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    let number = |out: &mut Vec<u8>, value: i64| out.extend_from_slice(&value.to_ne_bytes());
    let bytes = |out: &mut Vec<u8>, value: &[u8]| {
        out.extend_from_slice(&(value.len() as u64).to_ne_bytes());
        out.extend_from_slice(value);
    };
    bytes(&mut out, plan.program.as_bytes());
    for list in [&plan.argv, &plan.env] {
        number(&mut out, list.len() as i64);
        for item in list {
            bytes(&mut out, item.as_bytes());
        }
    }
    match &plan.directory {
        Some(dir) => {
            number(&mut out, 1);
            bytes(&mut out, dir.as_bytes());
        }
        None => number(&mut out, 0),
    }
    number(&mut out, plan.umask.map_or(-1, i64::from));
    match &plan.identity {
        Some(id) => {
            number(&mut out, i64::from(id.uid));
            number(&mut out, i64::from(id.gid));
            number(&mut out, id.groups.len() as i64);
            for group in &id.groups {
                number(&mut out, i64::from(*group));
            }
        }
        None => number(&mut out, -1),
    }
    // The notification fd (sent fourth) goes to this number in the child.
    number(
        &mut out,
        plan.notification
            .map_or(-1, |(_, target)| i64::from(target)),
    );
    let controls = &plan.controls;
    number(&mut out, controls.rlimits.len() as i64);
    for (resource, soft, hard) in &controls.rlimits {
        number(&mut out, i64::from(*resource));
        // u64 limits travel as their bits (unlimited is u64::MAX).
        number(&mut out, *soft as i64);
        number(&mut out, i64::from(hard.is_some()));
        number(&mut out, hard.unwrap_or_default() as i64);
    }
    number(&mut out, controls.nice.map_or(i64::MIN, i64::from));
    match &controls.oom_score_adj {
        Some(score) => {
            number(&mut out, 1);
            bytes(&mut out, score);
        }
        None => number(&mut out, 0),
    }
    number(&mut out, controls.ioprio.map_or(-1, i64::from));
    number(&mut out, controls.cpus.len() as i64);
    for cpu in &controls.cpus {
        number(&mut out, i64::from(*cpu));
    }
    number(&mut out, i64::from(controls.no_new_privs));
    match &plan.cgroup_procs {
        Some(procs) => {
            number(&mut out, 1);
            bytes(&mut out, procs.as_bytes());
        }
        None => number(&mut out, 0),
    }
    out
}

/// The inverse of [`encode`]; `None` for a malformed request.
pub(super) fn decode(data: &[u8], fds: &[OwnedFd]) -> Option<Launch> {
    let mut reader = Reader { data };
    let program = reader.c_string()?;
    let mut lists = [Vec::new(), Vec::new()];
    for list in &mut lists {
        for _ in 0..reader.number()? {
            list.push(reader.c_string()?);
        }
    }
    let [argv, env] = lists;
    let directory = match reader.number()? {
        0 => None,
        _ => Some(reader.c_string()?),
    };
    let umask = match reader.number()? {
        -1 => None,
        mask => Some(libc::mode_t::try_from(mask).ok()?),
    };
    let identity = match reader.number()? {
        -1 => None,
        uid => {
            let uid = libc::uid_t::try_from(uid).ok()?;
            let gid = libc::gid_t::try_from(reader.number()?).ok()?;
            let groups = (0..reader.number()?)
                .map(|_| reader.number().and_then(|g| libc::gid_t::try_from(g).ok()))
                .collect::<Option<Vec<_>>>()?;
            Some(Identity { uid, gid, groups })
        }
    };
    let stdio = [
        fds.first()?.as_raw_fd(),
        fds.get(1)?.as_raw_fd(),
        fds.get(2)?.as_raw_fd(),
    ];
    let notification = match reader.number()? {
        -1 => None,
        target => Some((fds.get(3)?.as_raw_fd(), RawFd::try_from(target).ok()?)),
    };
    let controls = decode_controls(&mut reader)?;
    let cgroup_procs = match reader.number()? {
        0 => None,
        _ => Some(reader.c_string()?),
    };
    Some(Launch {
        program,
        argv,
        env,
        directory,
        umask,
        identity,
        stdio,
        notification,
        controls,
        cgroup_procs,
    })
}

/// The resource controls, as [`encode`] wrote them.
fn decode_controls(reader: &mut Reader<'_>) -> Option<ChildControls> {
    let rlimits = (0..reader.number()?)
        .map(|_| {
            let resource = c_int::try_from(reader.number()?).ok()?;
            let soft = reader.number()? as u64;
            let has_hard = reader.number()? != 0;
            let hard = reader.number()? as u64;
            Some((resource, soft, has_hard.then_some(hard)))
        })
        .collect::<Option<Vec<_>>>()?;
    let nice = match reader.number()? {
        i64::MIN => None,
        nice => Some(c_int::try_from(nice).ok()?),
    };
    let oom_score_adj = match reader.number()? {
        0 => None,
        _ => Some(reader.c_string()?.into_bytes()),
    };
    let ioprio = match reader.number()? {
        -1 => None,
        value => Some(c_int::try_from(value).ok()?),
    };
    let cpus = (0..reader.number()?)
        .map(|_| u32::try_from(reader.number()?).ok())
        .collect::<Option<Vec<_>>>()?;
    let no_new_privs = reader.number()? != 0;
    Some(ChildControls {
        rlimits,
        nice,
        oom_score_adj,
        ioprio,
        cpus,
        no_new_privs,
    })
}

struct Reader<'a> {
    data: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, count: usize) -> Option<&[u8]> {
        if self.data.len() < count {
            return None;
        }
        let (head, rest) = self.data.split_at(count);
        self.data = rest;
        Some(head)
    }

    fn number(&mut self) -> Option<i64> {
        self.take(8)?.try_into().ok().map(i64::from_ne_bytes)
    }

    fn c_string(&mut self) -> Option<CString> {
        let length =
            usize::try_from(self.take(8)?.try_into().ok().map(u64::from_ne_bytes)?).ok()?;
        CString::new(self.take(length)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_survives_encoding() {
        let plan = Launch {
            program: CString::new("/bin/echo").unwrap(),
            argv: vec![
                CString::new("echo").unwrap(),
                CString::new("two words").unwrap(),
            ],
            env: vec![CString::new("A=1").unwrap()],
            directory: Some(CString::new("/tmp").unwrap()),
            umask: Some(0o22),
            identity: Some(Identity {
                uid: 1000,
                gid: 100,
                groups: vec![100, 27],
            }),
            stdio: [0, 1, 2],
            notification: Some((3, 5)),
            controls: ChildControls {
                rlimits: vec![(7, 64, Some(u64::MAX)), (4, u64::MAX, None)],
                nice: Some(-5),
                oom_score_adj: Some(b"-500".to_vec()),
                ioprio: Some(3 << 13),
                cpus: vec![0, 3],
                no_new_privs: true,
            },
            cgroup_procs: Some(CString::new("/sys/fs/cgroup/vigil/web/web/cgroup.procs").unwrap()),
        };
        let fds: Vec<OwnedFd> = (0..4)
            .map(|_| OwnedFd::from(std::fs::File::open("/dev/null").unwrap()))
            .collect();
        let back = decode(&encode(&plan), &fds).expect("decodes");
        assert_eq!(back.program, plan.program);
        assert_eq!(back.argv, plan.argv);
        assert_eq!(back.env, plan.env);
        assert_eq!(back.directory, plan.directory);
        assert_eq!(back.umask, plan.umask);
        let id = back.identity.expect("identity");
        assert_eq!((id.uid, id.gid, id.groups), (1000, 100, vec![100, 27]));
        assert_eq!(back.notification.map(|(_, target)| target), Some(5));
        assert_eq!(back.controls, plan.controls);
        assert_eq!(back.cgroup_procs, plan.cgroup_procs);
        assert!(decode(&encode(&plan)[..10], &fds).is_none(), "truncated");
    }
}
