//! Overlap checks and problem lists that stay O(n log n) in attacker-controlled counts.
//!
//! An image can declare hundreds of sections (the parsers cap the count); checking every pair and
//! writing one message per overlapping pair made a 48 KB metadata block cost 39 s, 1.9 GB and 1.2 GB
//! of output. Here overlaps are found by one sweep over the ranges sorted by start, and problem lists
//! keep the first few messages of each rule and count the rest.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How many messages of one rule a problem list keeps before it only counts.
pub const SHOWN_PER_RULE: usize = 3;

/// The overlapping pairs among half-open ranges: the first `limit` found, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlaps {
    /// `(a, b)` indices into the input, `a` the range that starts first (ties: the shorter).
    pub first: Vec<(usize, usize)>,
    /// Every overlapping pair, counted (up to n² / 2, hence u64).
    pub total: u64,
}

/// Finds overlapping pairs among `[start, end)` ranges in O(n log n + limit): a sweep in order of
/// start keeps the ranges still open in a min-heap of ends; each range overlaps exactly the ones
/// open when it starts. Empty ranges overlap nothing.
pub fn overlaps(ranges: &[(u64, u64)], limit: usize) -> Overlaps {
    let mut order: Vec<usize> = (0..ranges.len()).filter(|&i| ranges[i].0 < ranges[i].1).collect();
    order.sort_by_key(|&i| (ranges[i].0, ranges[i].1, i));
    let mut open: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut out = Overlaps { first: Vec::new(), total: 0 };
    for i in order {
        let (start, end) = ranges[i];
        while open.peek().is_some_and(|Reverse((e, _))| *e <= start) {
            open.pop();
        }
        out.total += open.len() as u64;
        if out.first.len() < limit {
            let mut earlier: Vec<usize> = open.iter().map(|Reverse((_, j))| *j).collect();
            earlier.sort_unstable();
            out.first.extend(earlier.into_iter().take(limit - out.first.len()).map(|j| (j, i)));
        }
        open.push(Reverse((end, i)));
    }
    out
}

/// A problem list that keeps the first [`SHOWN_PER_RULE`] messages of each rule and then says how
/// many more there were: its length is linear in the number of rules, not of sections.
#[derive(Debug, Default)]
pub struct Problems {
    out: Vec<String>,
    /// Per rule: messages seen, and where its summary line goes.
    rules: Vec<(&'static str, u64)>,
}

impl Problems {
    /// Adds a problem of `rule`; `msg` is only formatted while the rule is under its quota.
    pub fn push(&mut self, rule: &'static str, msg: impl FnOnce() -> String) {
        let n = match self.rules.iter_mut().find(|r| r.0 == rule) {
            Some(r) => {
                r.1 += 1;
                r.1
            }
            None => {
                self.rules.push((rule, 1));
                1
            }
        };
        if n <= SHOWN_PER_RULE as u64 {
            self.out.push(msg());
        }
    }

    /// Adds the overlaps found among `ranges` as one rule: the first pairs as `pair(a, b)`, then
    /// the count of the rest.
    pub fn overlaps(&mut self, rule: &'static str, ranges: &[(u64, u64)], pair: impl Fn(usize, usize) -> String) {
        let o = overlaps(ranges, SHOWN_PER_RULE);
        self.out.extend(o.first.iter().map(|&(a, b)| pair(a, b)));
        if o.total > 0 {
            self.rules.push((rule, o.total));
        }
    }

    /// The messages, with one summary line for each rule that had more than it showed.
    pub fn finish(mut self) -> Vec<String> {
        for (rule, n) in &self.rules {
            if *n > SHOWN_PER_RULE as u64 {
                self.out.push(format!("... and {} more: {rule}", n - SHOWN_PER_RULE as u64));
            }
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pairwise definition, for comparison on small inputs.
    fn naive(r: &[(u64, u64)]) -> u64 {
        let mut n = 0;
        for i in 0..r.len() {
            for j in i + 1..r.len() {
                let (a, b) = (r[i], r[j]);
                n += (a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1) as u64;
            }
        }
        n
    }

    #[test]
    fn counts_agree_with_the_pairwise_definition() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..500 {
            let n = (round % 40) as usize;
            let r: Vec<(u64, u64)> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let s = (x >> 33) % 64;
                    (s, s + (x >> 20) % 12)
                })
                .collect();
            let o = overlaps(&r, usize::MAX);
            assert_eq!(o.total, naive(&r), "{r:?}");
            assert_eq!(o.first.len() as u64, o.total);
            for &(a, b) in &o.first {
                assert!(r[a].0 < r[b].1 && r[b].0 < r[a].1, "{r:?}: {a} {b}");
            }
        }
    }

    #[test]
    fn touching_and_empty_ranges_do_not_overlap() {
        assert_eq!(overlaps(&[(0, 10), (10, 20), (5, 5), (20, 20)], 10).total, 0);
        let o = overlaps(&[(0, 10), (9, 20), (0, 10)], 10);
        assert_eq!(o.total, 3);
        assert_eq!(o.first[0], (0, 2));
    }

    #[test]
    fn ten_thousand_identical_ranges_are_counted_not_listed() {
        let r = vec![(0x800000u64, 0x801000u64); 10_000];
        let o = overlaps(&r, 3);
        assert_eq!(o.total, 10_000 * 9_999 / 2);
        assert_eq!(o.first.len(), 3);
    }

    #[test]
    fn problem_lists_keep_a_few_per_rule_and_count_the_rest() {
        let mut p = Problems::default();
        for i in 0..1000 {
            p.push("not aligned", || format!("section {i}: not aligned"));
        }
        p.push("empty", || "section 7: empty".into());
        p.overlaps("overlapping pairs", &[(0, 2), (1, 3), (1, 3), (0, 9)], |a, b| format!("{a} overlaps {b}"));
        let v = p.finish();
        assert_eq!(
            v,
            [
                "section 0: not aligned",
                "section 1: not aligned",
                "section 2: not aligned",
                "section 7: empty",
                "0 overlaps 3",
                "0 overlaps 1",
                "3 overlaps 1",
                "... and 997 more: not aligned",
                "... and 3 more: overlapping pairs",
            ]
        );
    }
}
