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
///
/// `pairs` holds each unordered pair at most once (as every [`FitPair`]
/// list does).
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
    if has_two_way_hub(n, pairs) {
        return Connectivity {
            strongly_connected: true,
            in_main: vec![true; n],
        };
    }
    components(n, pairs, votes, names)
}

/// [`connectivity`] by a full search for the components.
fn components(n: usize, pairs: &[FitPair], votes: &[u64], names: &[String]) -> Connectivity {
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

/// Whether some model has edges both ways with every other model: then
/// every model reaches the hub and is reached from it, so the graph is
/// strongly connected. One pass over the pairs, where the full search
/// builds two adjacency lists; on a mature leaderboard (every pair voted,
/// each side winning sometimes) it decides at once.
fn has_two_way_hub(n: usize, pairs: &[FitPair]) -> bool {
    let mut two_way = vec![0usize; n];
    for p in pairs {
        if p.score > 0.0 && p.weight - p.score > 0.0 {
            two_way[p.i] += 1;
            two_way[p.j] += 1;
        }
    }
    two_way.contains(&(n - 1))
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
        let cases: [Case; 6] = [
            (
                "a two-way hub",
                4,
                vec![
                    pair(0, 1, 2.0, 1.0),
                    pair(0, 2, 3.0, 1.5),
                    pair(0, 3, 2.0, 0.5),
                    pair(1, 2, 1.0, 1.0),
                ],
                true,
                vec![true; 4],
            ),
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
            assert_eq!(got, components(n, &pairs, &vec![1; n], &names), "{what}");
        }
    }

    #[test]
    fn the_hub_shortcut_agrees_with_the_full_search() {
        // Random sparse-to-dense graphs on 6 models from a fixed LCG; every
        // outcome kind per pair: unplayed, i always won, j always won, both.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize
        };
        let n = 6;
        let names: Vec<String> = (0..n).map(|k| format!("m{k}")).collect();
        let mut hubs = 0;
        for _ in 0..2000 {
            let mut pairs = Vec::new();
            for i in 0..n {
                for j in i + 1..n {
                    match next() % 5 {
                        0 => {}
                        1 => pairs.push(pair(i, j, 1.0, 1.0)),
                        2 => pairs.push(pair(i, j, 1.0, 0.0)),
                        _ => pairs.push(pair(i, j, 2.0, 1.0)),
                    }
                }
            }
            hubs += usize::from(has_two_way_hub(n, &pairs));
            let votes = vec![1; n];
            assert_eq!(
                connectivity(n, &pairs, &votes, &names),
                components(n, &pairs, &votes, &names),
                "{pairs:?}"
            );
        }
        assert!(hubs > 100, "the shortcut was taken only {hubs} times");
    }
}
