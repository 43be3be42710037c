//! `--shard auto`: K and N from the batch system a shard runs under.
//!
//! In this order, the first system whose variables are set decides:
//!
//! | system | K | N |
//! |---|---|---|
//! | Slurm array job | (`SLURM_ARRAY_TASK_ID` − `SLURM_ARRAY_TASK_MIN`) / `SLURM_ARRAY_TASK_STEP` (step 1 when unset) | `SLURM_ARRAY_TASK_COUNT` |
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `TCPSIM_SHARDS` |
//! | GitLab CI `parallel` | `CI_NODE_INDEX` − 1 | `CI_NODE_TOTAL` |
//!
//! A Slurm array whose IDs are not `MIN + k × STEP` for `k < COUNT` (a
//! sparse list like `--array=1,4,9`) cannot be split evenly by its index,
//! and is refused; so is a system whose variables are half set or not
//! numbers, and no system at all.

/// K and N (K counted from 0, K < N) from the environment `var` reads.
pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<(u64, u64), String> {
    let number = |name: &str| -> Result<Option<u64>, String> {
        match var(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                format!("--shard auto: {name}={v:?}: expected a non-negative integer")
            }),
        }
    };
    let need = |name: &str, with: &str| -> Result<u64, String> {
        number(name)?.ok_or_else(|| format!("--shard auto: {with} is set but {name} is not"))
    };
    if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
        let min = need("SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_ID")?;
        let count = need("SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_ID")?;
        let step = number("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        let offset = id.checked_sub(min).filter(|_| step > 0);
        let k = match offset {
            Some(o) if o % step == 0 && o / step < count => o / step,
            _ => {
                return Err(format!(
                    "--shard auto: Slurm task {id} is not MIN + k x STEP for k < COUNT \
                     (MIN {min}, STEP {step}, COUNT {count}): expected an array of evenly \
                     spaced IDs like --array=0-{} (a sparse list cannot be split by index)",
                    count.saturating_sub(1)
                ));
            }
        };
        return checked(k, count, "SLURM_ARRAY_TASK_COUNT");
    }
    if let Some(k) = number("JOB_COMPLETION_INDEX")? {
        let n = need("TCPSIM_SHARDS", "JOB_COMPLETION_INDEX")?;
        return checked(k, n, "TCPSIM_SHARDS");
    }
    if let Some(index) = number("CI_NODE_INDEX")? {
        let n = need("CI_NODE_TOTAL", "CI_NODE_INDEX")?;
        let k = index
            .checked_sub(1)
            .ok_or("--shard auto: CI_NODE_INDEX=0: expected GitLab's index, from 1")?;
        return checked(k, n, "CI_NODE_TOTAL");
    }
    Err(
        "--shard auto: no batch system found: expected SLURM_ARRAY_TASK_ID (Slurm array job), \
         JOB_COMPLETION_INDEX with TCPSIM_SHARDS (Kubernetes Indexed Job) or CI_NODE_INDEX \
         with CI_NODE_TOTAL (GitLab parallel), or give --shard K/N"
            .to_string(),
    )
}

/// `(k, n)` if `k < n`; `total` names N's variable.
fn checked(k: u64, n: u64, total: &str) -> Result<(u64, u64), String> {
    if k < n {
        Ok((k, n))
    } else {
        Err(format!(
            "--shard auto: shard {k} of {n}: expected a shard below {total} = {n}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(vars: &[(&str, &str)]) -> Result<(u64, u64), String> {
        let vars: Vec<(String, String)> = (vars.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_env(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn slurm_counts_tasks_from_min_by_step() {
        // --array=0-9: task 3 is shard 3 of 10.
        let a = [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "0")];
        assert_eq!(
            auto(&[a[0], a[1], ("SLURM_ARRAY_TASK_COUNT", "10")]),
            Ok((3, 10))
        );
        // --array=1-7:3 (tasks 1, 4, 7): task 7 is (7 - 1) / 3 = 2 of 3.
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ];
        assert_eq!(auto(&stepped), Ok((2, 3)));
        // Slurm decides over the others.
        let mut both = stepped.to_vec();
        both.extend([("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "9")]);
        assert_eq!(auto(&both), Ok((2, 3)));
    }

    #[test]
    fn a_sparse_slurm_array_is_refused() {
        // --array=1,4,9: MIN 1, COUNT 3, no step: task 9 is not 1 + k, k < 3.
        let e = auto(&[
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ])
        .unwrap_err();
        assert!(e.contains("not MIN + k x STEP"), "{e}");
        // Task 4 of 1-7:3's array, but with step 2: (4 - 1) % 2 != 0.
        let e = auto(&[
            ("SLURM_ARRAY_TASK_ID", "4"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ])
        .unwrap_err();
        assert!(e.contains("STEP 2"), "{e}");
        let e = auto(&[("SLURM_ARRAY_TASK_ID", "2")]).unwrap_err();
        assert!(e.contains("SLURM_ARRAY_TASK_MIN is not"), "{e}");
    }

    #[test]
    fn kubernetes_and_gitlab() {
        let k8s = [("JOB_COMPLETION_INDEX", "4"), ("TCPSIM_SHARDS", "5")];
        assert_eq!(auto(&k8s), Ok((4, 5)));
        let e = auto(&[("JOB_COMPLETION_INDEX", "5"), ("TCPSIM_SHARDS", "5")]).unwrap_err();
        assert!(e.contains("below TCPSIM_SHARDS = 5"), "{e}");
        let e = auto(&[("JOB_COMPLETION_INDEX", "0")]).unwrap_err();
        assert!(e.contains("TCPSIM_SHARDS is not"), "{e}");
        // GitLab counts from 1: node 1 of 4 is shard 0.
        let gitlab = [("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "4")];
        assert_eq!(auto(&gitlab), Ok((0, 4)));
        assert_eq!(
            auto(&[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "4")]),
            Ok((3, 4))
        );
        assert!(auto(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "4")]).is_err());
        let e = auto(&[("CI_NODE_INDEX", "x"), ("CI_NODE_TOTAL", "4")]).unwrap_err();
        assert!(e.contains("CI_NODE_INDEX=\"x\""), "{e}");
    }

    #[test]
    fn nothing_set_says_what_it_looked_for() {
        let e = auto(&[]).unwrap_err();
        assert!(e.contains("no batch system found"), "{e}");
        assert!(e.contains("--shard K/N"), "{e}");
    }
}
