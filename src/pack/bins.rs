//! One crossbar being filled: its maximal free rectangles and what it already hosts.

use super::{Item, Rules};

/// A rectangle on a crossbar: column offset `x`, row offset `y`, width in columns, height in rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Rect {
    fn contains(&self, o: &Rect) -> bool {
        o.x >= self.x && o.y >= self.y && o.x + o.w <= self.x + self.w && o.y + o.h <= self.y + self.h
    }
    /// Some column (bit-line) belongs to both.
    pub fn shares_cols(&self, o: &Rect) -> bool {
        self.x < o.x + o.w && o.x < self.x + self.w
    }
    /// Some row (word-line) belongs to both.
    pub fn shares_rows(&self, o: &Rect) -> bool {
        self.y < o.y + o.h && o.y < self.y + self.h
    }
    pub fn intersects(&self, o: &Rect) -> bool {
        self.shares_cols(o) && self.shares_rows(o)
    }
}

/// Bits `start..start + len` of a 128-bit mask (`start + len` ≤ 128).
fn band(start: usize, len: usize) -> u128 {
    if len == 0 {
        0
    } else if len >= 128 {
        u128::MAX
    } else {
        ((1u128 << len) - 1) << start
    }
}

/// How a free rectangle is chosen for a tile (MaxRects rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Least leftover on the shorter side.
    ShortSide,
    /// Lowest top edge, then leftmost.
    BottomLeft,
    /// Farthest from the crossbar's far corner (cols, rows), then lowest, then leftmost:
    /// the reference's rule, with both axes measured consistently.
    FarCorner,
}

/// A crossbar under construction. Free space is kept as maximal empty rectangles (the
/// reference's "empty maximal spaces", MaxRects in the literature).
#[derive(Clone, Debug)]
pub struct Bin {
    pub free: Vec<Rect>,
    /// Distinct layers hosted, sorted.
    pub layers: Vec<usize>,
    pub tiles: usize,
    pub time_ns: f64,
    pub used_cells: u64,
    /// The slowest layer hosted and its time: with `Rules::exclusive_ns` it is the one heavy
    /// layer a crossbar may hold.
    pub slowest: Option<(usize, f64)>,
    /// The crossbar's size (for distances to its far corner).
    pub rows: usize,
    pub cols: usize,
    /// Where each hosted tile lies, by layer (for [`Rules::diagonal`]).
    pub spans: Vec<(usize, Rect)>,
    /// The widest and the tallest free rectangle's sides: a tile wider or taller cannot fit
    /// (an O(1) test that spares the packers' scans most full crossbars).
    reach: (usize, usize),
}

impl Bin {
    pub fn new(rows: usize, cols: usize) -> Bin {
        Bin {
            free: vec![Rect {
                x: 0,
                y: 0,
                w: cols,
                h: rows,
            }],
            layers: Vec::new(),
            tiles: 0,
            time_ns: 0.0,
            used_cells: 0,
            slowest: None,
            rows,
            cols,
            spans: Vec::new(),
            reach: (cols, rows),
        }
    }

    /// False when no free rectangle can hold `item` whatever the rules (exact: every fit
    /// needs a free rectangle at least as wide and as tall as the tile).
    #[inline]
    pub fn could_fit(&self, item: &Item) -> bool {
        item.cols <= self.reach.0 && item.rows <= self.reach.1
    }

    /// Whether the rules allow `item` here (space aside).
    pub fn admits(&self, item: &Item, rules: &Rules) -> bool {
        if rules.max_load > 0 && self.tiles >= rules.max_load {
            return false;
        }
        let hosted = self.layers.binary_search(&item.layer).is_ok();
        if rules.layer_threshold >= 0 {
            let t = rules.layer_threshold as usize;
            // Layers are sorted: only the neighbours of item.layer's position can be close.
            let pos = self.layers.partition_point(|&l| l < item.layer);
            let close = |l: usize| l.abs_diff(item.layer) <= t;
            if self.layers.get(pos).is_some_and(|&l| close(l)) || pos > 0 && close(self.layers[pos - 1]) {
                return false;
            }
        }
        if let (Some(w), Some(&lo), Some(&hi)) = (rules.window, self.layers.first(), self.layers.last())
            && (hi.max(item.layer) - lo.min(item.layer)) > w
        {
            return false;
        }
        if let (Some(h), Some((l, t))) = (rules.exclusive_ns, self.slowest)
            && item.time_ns >= h
            && t >= h
            && l != item.layer
        {
            return false;
        }
        if let Some(p) = rules.time_budget_ns
            && !hosted
            && self.time_ns + item.time_ns > p * (1.0 + 1e-12)
        {
            return false;
        }
        true
    }

    /// Remaining time budget after hosting `item` (for scoring).
    pub fn time_after(&self, item: &Item) -> f64 {
        if self.layers.binary_search(&item.layer).is_ok() {
            self.time_ns
        } else {
            self.time_ns + item.time_ns
        }
    }

    /// Places a `h`×`w` item at (`x`, `y`), which must lie inside a free rectangle.
    pub fn place(&mut self, item: &Item, x: usize, y: usize) {
        let r = Rect {
            x,
            y,
            w: item.cols,
            h: item.rows,
        };
        let mut next = Vec::with_capacity(self.free.len() + 4);
        for f in &self.free {
            if !f.intersects(&r) {
                next.push(*f);
                continue;
            }
            // Up to four maximal pieces of f around r.
            if r.x > f.x {
                next.push(Rect {
                    x: f.x,
                    y: f.y,
                    w: r.x - f.x,
                    h: f.h,
                });
            }
            if r.x + r.w < f.x + f.w {
                next.push(Rect {
                    x: r.x + r.w,
                    y: f.y,
                    w: f.x + f.w - (r.x + r.w),
                    h: f.h,
                });
            }
            if r.y > f.y {
                next.push(Rect {
                    x: f.x,
                    y: f.y,
                    w: f.w,
                    h: r.y - f.y,
                });
            }
            if r.y + r.h < f.y + f.h {
                next.push(Rect {
                    x: f.x,
                    y: r.y + r.h,
                    w: f.w,
                    h: f.y + f.h - (r.y + r.h),
                });
            }
        }
        // Drop rectangles contained in others (keep the first of equal ones).
        let mut keep = vec![true; next.len()];
        for i in 0..next.len() {
            if !keep[i] {
                continue;
            }
            for j in 0..next.len() {
                if i != j && keep[j] && next[i].contains(&next[j]) {
                    keep[j] = false;
                }
            }
        }
        self.free = next
            .into_iter()
            .zip(keep)
            .filter_map(|(r, k)| k.then_some(r))
            .collect();
        self.reach = self
            .free
            .iter()
            .fold((0, 0), |(w, h), f| (w.max(f.w), h.max(f.h)));
        if let Err(pos) = self.layers.binary_search(&item.layer) {
            self.layers.insert(pos, item.layer);
            self.time_ns += item.time_ns;
        }
        self.tiles += 1;
        self.spans.push((item.layer, r));
        self.used_cells += item.cells();
        if self.slowest.is_none_or(|(_, t)| item.time_ns > t) {
            self.slowest = Some((item.layer, item.time_ns));
        }
    }

    /// Best-short-side-fit free rectangle for `item`: (short leftover, long leftover, x, y).
    pub fn best_fit(&self, item: &Item, rules: &Rules) -> Option<(usize, usize, usize, usize)> {
        self.fit(item, Fit::ShortSide, rules)
    }

    /// The best free rectangle for `item` under `rule`: (primary, secondary, x, y), smaller
    /// is better. Under [`Rules::diagonal`], a tile of a layer already hosted here goes only
    /// where it shares no row and no column with that layer's tiles (any corner of a free
    /// rectangle, not just its first).
    pub fn fit(&self, item: &Item, rule: Fit, rules: &Rules) -> Option<(usize, usize, usize, usize)> {
        let score = |f: &Rect, x: usize, y: usize| {
            let (dw, dh) = (f.w - item.cols, f.h - item.rows);
            match rule {
                Fit::ShortSide => (dw.min(dh), dw.max(dh), x, y),
                Fit::BottomLeft => (y + item.rows, x, x, y),
                Fit::FarCorner => {
                    let (dx, dy) = (self.cols - x, self.rows - y);
                    (usize::MAX - (dx * dx + dy * dy), y, x, y)
                }
            }
        };
        let fits = |f: &&Rect| f.w >= item.cols && f.h >= item.rows;
        // The hot path of every packer: no diagonal constraint, a free rectangle's first corner.
        if !rules.diagonal || self.layers.binary_search(&item.layer).is_err() {
            return self.free.iter().filter(fits).map(|f| score(f, f.x, f.y)).min();
        }
        if self.rows <= 128 && self.cols <= 128 {
            // The rows and columns this layer already uses, as bit masks: the same test in
            // O(1) per corner, and none at all when too few rows or columns are left.
            let (mut rm, mut cm) = (0u128, 0u128);
            for (_, o) in self.spans.iter().filter(|s| s.0 == item.layer) {
                rm |= band(o.y, o.h);
                cm |= band(o.x, o.w);
            }
            if self.rows - (rm.count_ones() as usize) < item.rows
                || self.cols - (cm.count_ones() as usize) < item.cols
            {
                return None;
            }
            let apart = |x: usize, y: usize| band(y, item.rows) & rm == 0 && band(x, item.cols) & cm == 0;
            return self.corner_fit(item, score, apart);
        }
        let own: Vec<Rect> = self
            .spans
            .iter()
            .filter(|s| s.0 == item.layer)
            .map(|s| s.1)
            .collect();
        let apart = |x: usize, y: usize| {
            let r = Rect {
                x,
                y,
                w: item.cols,
                h: item.rows,
            };
            own.iter().all(|o| !r.shares_rows(o) && !r.shares_cols(o))
        };
        self.corner_fit(item, score, apart)
    }

    /// The best-scoring corner of a free rectangle that holds `item` where `apart` allows it.
    fn corner_fit(
        &self,
        item: &Item,
        score: impl Fn(&Rect, usize, usize) -> (usize, usize, usize, usize),
        apart: impl Fn(usize, usize) -> bool,
    ) -> Option<(usize, usize, usize, usize)> {
        let fits = |f: &&Rect| f.w >= item.cols && f.h >= item.rows;
        let mut best = None;
        for f in self.free.iter().filter(fits) {
            let (x1, y1) = (f.x + f.w - item.cols, f.y + f.h - item.rows);
            for (x, y) in [(f.x, f.y), (x1, f.y), (f.x, y1), (x1, y1)] {
                if apart(x, y) {
                    let s = score(f, x, y);
                    if best.is_none_or(|b| s < b) {
                        best = Some(s);
                    }
                }
            }
        }
        best
    }
}
