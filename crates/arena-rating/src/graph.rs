//! Does the Bradley–Terry optimum exist? A question about a directed graph.
//!
//! The maximum-likelihood θ exists and is unique (up to the common shift)
//! exactly when the "beats" graph is strongly connected: an edge i → j
//! whenever i scored anything against j (a tie is half a win both ways).
//! Otherwise some group of models only ever won (or only lost) against the
//! rest, and its rating gap would run off to infinity (Zermelo 1929,
//! Ford 1957).

use std::cmp::Reverse;

use crate::counts::FitPair;

/// The result of the connectivity check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connectivity {
    /// True when one strongly connected component holds every model.
    pub(crate) strongly_connected: bool,
    /// Per model: whether it belongs to the largest strongly connected
    /// component (the part of the leaderboard we can fully trust).
    pub(crate) in_main: Vec<bool>,
}

/// Strongly connected components of the beats graph (Kosaraju, iterative so
/// that a long chain of models cannot overflow the stack).
///
/// Ties for the largest component are broken by votes, then by the
/// alphabetically first model name (`names` may be empty when the caller
/// only needs `strongly_connected`), so the result does not depend on the
/// order in which votes arrived.
pub(crate) fn connectivity(
    n: usize,
    pairs: &[FitPair],
    votes: &[u64],
    names: &[String],
) -> Connectivity {
    if n <= 1 {
        return Connectivity {
            strongly_connected: true,
            in_main: vec![true; n],
        };
    }
    let mut fwd: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut rev: Vec<Vec<usize>> = vec![Vec::new(); n];
    for p in pairs {
        if p.score > 0.0 {
            fwd[p.i].push(p.j);
            rev[p.j].push(p.i);
        }
        if p.weight - p.score > 0.0 {
            fwd[p.j].push(p.i);
            rev[p.i].push(p.j);
        }
    }
    // Pass 1: finishing order on the forward graph.
    let mut order = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for start in 0..n {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push((start, 0));
        while let Some((v, next)) = stack.last_mut() {
            if let Some(&w) = fwd[*v].get(*next) {
                *next += 1;
                if !seen[w] {
                    seen[w] = true;
                    stack.push((w, 0));
                }
            } else {
                order.push(*v);
                stack.pop();
            }
        }
    }
    // Pass 2: components on the reverse graph, in reverse finishing order.
    let mut comp = vec![usize::MAX; n];
    // Per component: size, votes, and its alphabetically first model.
    let mut sizes: Vec<(usize, u64, usize)> = Vec::new();
    let mut todo = Vec::new();
    for &start in order.iter().rev() {
        if comp[start] != usize::MAX {
            continue;
        }
        let id = sizes.len();
        sizes.push((0, 0, start));
        comp[start] = id;
        todo.push(start);
        while let Some(v) = todo.pop() {
            sizes[id].0 += 1;
            sizes[id].1 += votes.get(v).copied().unwrap_or(0);
            if names.get(v) < names.get(sizes[id].2) {
                sizes[id].2 = v;
            }
            for &w in &rev[v] {
                if comp[w] == usize::MAX {
                    comp[w] = id;
                    todo.push(w);
                }
            }
        }
    }
    let key = |c: usize| (sizes[c].0, sizes[c].1, Reverse(names.get(sizes[c].2)));
    let main = (0..sizes.len()).max_by_key(|&c| key(c)).unwrap_or(0);
    Connectivity {
        strongly_connected: sizes.len() == 1,
        in_main: comp.iter().map(|&c| c == main).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(i: usize, j: usize, weight: f64, score: f64) -> FitPair {
        FitPair {
            i,
            j,
            weight,
            score,
        }
    }

    #[test]
    fn detects_the_cases_where_no_optimum_exists() {
        type Case = (&'static str, usize, Vec<FitPair>, bool, Vec<bool>);
        let cases: [Case; 5] = [
            (
                "a cycle",
                3,
                vec![
                    pair(0, 1, 1.0, 1.0),
                    pair(1, 2, 1.0, 1.0),
                    pair(0, 2, 1.0, 0.0),
                ],
                true,
                vec![true; 3],
            ),
            (
                "ties connect both ways",
                2,
                vec![pair(0, 1, 1.0, 0.5)],
                true,
                vec![true; 2],
            ),
            (
                "only losses",
                3,
                vec![
                    pair(0, 1, 2.0, 1.0),
                    pair(1, 2, 5.0, 5.0),
                    pair(0, 2, 1.0, 1.0),
                ],
                false,
                vec![true, true, false],
            ),
            (
                "two islands",
                4,
                vec![pair(0, 1, 4.0, 2.0), pair(2, 3, 2.0, 1.0)],
                false,
                vec![true, true, false, false],
            ),
            (
                "an unseen model",
                3,
                vec![pair(0, 1, 1.0, 0.5)],
                false,
                vec![true, true, false],
            ),
        ];
        for (what, n, pairs, connected, main) in cases {
            let names: Vec<String> = (0..n).map(|k| format!("m{k}")).collect();
            let got = connectivity(n, &pairs, &vec![1; n], &names);
            assert_eq!(got.strongly_connected, connected, "{what}");
            assert_eq!(got.in_main, main, "{what}");
        }
    }
}
