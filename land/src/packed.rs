//! A static packed R-tree of integer boxes (the Hilbert-sorted layout of flatbush), for the
//! import's overlap check: built once from a million parcel boxes, searched once per parcel.
//!
//! Why not `rstar`: its bulk-loaded tree keeps each leaf as a node enum the size of an inner
//! node (~40 bytes) next to the input vector it consumes, about 60 MB at a million parcels —
//! the largest single allocation of an import. Packed, the tree is the input itself, sorted in
//! place (20 bytes a box with its id), plus a fifteenth for the inner levels: ~21 MB.

/// Children per inner node.
const NODE: usize = 16;

/// A box: `[min x, min y, max x, max y]`, inclusive.
pub type IBox = [i32; 4];

/// The tree: every level's nodes one after the other, leaves first.
pub struct PackedTree {
    /// Per node: for a leaf, the item's id; for an inner node, the position of its first
    /// child; then its box. Leaves (Hilbert order) first, the root last.
    nodes: Vec<(u32, IBox)>,
    /// Where each level starts in `nodes` (and the end of the last).
    levels: Vec<usize>,
}

impl PackedTree {
    /// Builds the tree of `items` (id, box), sorted in place: the tree takes no copy of them
    /// (keys are computed per comparison, so no key array either).
    pub fn new(mut items: Vec<(u32, IBox)>) -> Self {
        if let Some(extent) = items.iter().map(|(_, b)| *b).reduce(union) {
            let span = |lo: i32, hi: i32| (i64::from(hi) - i64::from(lo)).max(1) as f64;
            let (w, h) = (span(extent[0], extent[2]), span(extent[1], extent[3]));
            let key = |b: &IBox| {
                // Centres on a 2¹⁶ grid over the extent.
                let cx = (i64::from(b[0]) + i64::from(b[2])) / 2 - i64::from(extent[0]);
                let cy = (i64::from(b[1]) + i64::from(b[3])) / 2 - i64::from(extent[1]);
                let gx = ((cx as f64 / w) * 65535.0) as u32;
                let gy = ((cy as f64 / h) * 65535.0) as u32;
                hilbert(gx.min(65535), gy.min(65535))
            };
            items.sort_unstable_by(|(i, a), (j, b)| key(a).cmp(&key(b)).then(i.cmp(j)));
        }
        let mut nodes = items;
        // A list made with `capacity_for` does not grow here (growing copies it whole).
        nodes.reserve_exact(Self::capacity_for(nodes.len()) - nodes.len());
        let mut levels = vec![0, nodes.len()];
        // Each level groups the one below in runs of NODE, until one node is left.
        while levels[levels.len() - 1] - levels[levels.len() - 2] > 1 {
            let (start, end) = (levels[levels.len() - 2], levels[levels.len() - 1]);
            let mut child = start;
            while child < end {
                let last = (child + NODE).min(end);
                let b = nodes[child..last]
                    .iter()
                    .map(|(_, b)| *b)
                    .reduce(union)
                    .unwrap_or([0; 4]);
                nodes.push((child as u32, b));
                child = last;
            }
            levels.push(nodes.len());
        }
        Self { nodes, levels }
    }

    /// The ids of the items whose boxes meet `query` (touching counts), in no order, pushed to
    /// `out` (cleared first); `stack` is scratch space.
    pub fn search(&self, query: &IBox, out: &mut Vec<u32>, stack: &mut Vec<usize>) {
        out.clear();
        stack.clear();
        let leaves_end = self.levels[1];
        if leaves_end == 0 {
            return;
        }
        stack.push(self.nodes.len() - 1);
        while let Some(node) = stack.pop() {
            let (r, b) = &self.nodes[node];
            if b[0] > query[2] || b[2] < query[0] || b[1] > query[3] || b[3] < query[1] {
                continue;
            }
            if node < leaves_end {
                out.push(*r);
                continue;
            }
            let first = *r as usize;
            // The children end after NODE of them or where their level ends.
            let level_end = self
                .levels
                .iter()
                .copied()
                .find(|&e| e > first)
                .unwrap_or(first);
            stack.extend(first..(first + NODE).min(level_end));
        }
    }

    /// The capacity a list of `items` boxes needs to become a tree without growing (the
    /// tree's nodes follow the items in the same list).
    pub fn capacity_for(items: usize) -> usize {
        items + items / (NODE - 1) + 2
    }

    /// The items in the tree's (Hilbert) order: neighbours in space come close together.
    pub fn items(&self) -> &[(u32, IBox)] {
        &self.nodes[..self.levels[1]]
    }
}

/// The box of both.
pub(crate) fn union(a: IBox, b: IBox) -> IBox {
    [
        a[0].min(b[0]),
        a[1].min(b[1]),
        a[2].max(b[2]),
        a[3].max(b[3]),
    ]
}

/// Position of (x, y) along the Hilbert curve of a 2¹⁶ × 2¹⁶ grid.
fn hilbert(x: u32, y: u32) -> u64 {
    let (mut x, mut y) = (u64::from(x), u64::from(y));
    let n: u64 = 1 << 16;
    let mut d = 0u64;
    let mut s = n / 2;
    while s > 0 {
        let rx = u64::from(x & s > 0);
        let ry = u64::from(y & s > 0);
        d += s * s * ((3 * rx) ^ ry);
        // Rotate the quadrant.
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every search answers exactly what comparing with every box answers.
    #[test]
    fn searches_find_exactly_the_meeting_boxes() {
        let mut seed = 12345u64;
        let mut next = move |m: i32| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % m as u64) as i32
        };
        for n in [0usize, 1, 15, 16, 17, 255, 256, 257, 3000] {
            let items: Vec<(u32, IBox)> = (0..n as u32)
                .map(|i| {
                    let (x, y) = (next(100_000) - 50_000, next(100_000));
                    (i, [x, y, x + next(3000), y + next(3000)])
                })
                .collect();
            let tree = PackedTree::new(items.clone());
            assert_eq!(tree.items().len(), n);
            let (mut out, mut stack) = (Vec::new(), Vec::new());
            for q in items.iter().map(|(_, b)| *b).take(200) {
                tree.search(&q, &mut out, &mut stack);
                out.sort_unstable();
                let expected: Vec<u32> = items
                    .iter()
                    .filter(|(_, b)| !(b[0] > q[2] || b[2] < q[0] || b[1] > q[3] || b[3] < q[1]))
                    .map(|(i, _)| *i)
                    .collect();
                assert_eq!(out, expected, "n = {n}, query {q:?}");
            }
        }
    }

    #[test]
    fn the_curve_visits_each_cell_once() {
        let mut seen = std::collections::HashSet::new();
        for x in 0..64 {
            for y in 0..64 {
                assert!(seen.insert(hilbert(x << 10, y << 10)));
            }
        }
    }
}
