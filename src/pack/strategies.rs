//! Placement strategies: the reference's, greedy MaxRects on sorted orders, and a biased
//! random-key genetic search over orders.

use super::bins::Fit;
use super::{Bin, Item, Packing, Placement, Rules};
use crate::partition::Crossbar;
use crate::rng::SplitMix64;
use serde::Serialize;

/// The best candidate so far: (score, crossbar, x, y).
pub type Choice<S> = Option<(S, usize, usize, usize)>;

/// Which placement strategy to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Packer {
    /// The reference's: one seeded random order, first opened crossbar with a fitting empty
    /// maximal space, the space farthest from the crossbar's far corner.
    Reference,
    /// Greedy best-short-side-fit over all open crossbars, items by decreasing area.
    Maxrects,
    /// Several sorted orders plus a biased random-key genetic search over orders; keeps the
    /// best packing (fewest crossbars, then fullest crossbars).
    #[default]
    Search,
}

/// Why packing failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PackError {
    #[error(
        "the mapping does not fit in {budget} crossbars: {tiles} tiles with {cells} cells need at least \
         {bound} crossbars {reason}{rules}; raise `crossbars` or use `find_solution`"
    )]
    DoesNotFit {
        budget: usize,
        tiles: usize,
        cells: u64,
        bound: u64,
        reason: &'static str,
        rules: String,
    },
    #[error("tile {rows}x{cols} of layer {layer} is larger than the {xbar} crossbar")]
    TooLarge {
        layer: usize,
        rows: usize,
        cols: usize,
        xbar: Crossbar,
    },
}

/// Options of [`pack`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PackOptions {
    pub packer: Packer,
    pub rules: Rules,
    /// Crossbars available; `None` opens as many as needed (`--find-solution`).
    pub budget: Option<usize>,
    pub seed: u64,
    /// Generations of the genetic search (0 = sorted orders only).
    pub generations: usize,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            packer: Packer::Search,
            rules: Rules::default(),
            budget: None,
            seed: 1,
            generations: 40,
        }
    }
}

/// Packs `items` onto `xbar` crossbars.
pub fn pack(items: &[Item], xbar: Crossbar, opts: &PackOptions) -> Result<Packing, PackError> {
    if let Some(it) = items.iter().find(|it| it.rows > xbar.rows || it.cols > xbar.cols) {
        return Err(PackError::TooLarge {
            layer: it.layer,
            rows: it.rows,
            cols: it.cols,
            xbar,
        });
    }
    let cap = opts.budget.unwrap_or(usize::MAX);
    let result = match opts.packer {
        Packer::Reference => {
            let mut order: Vec<usize> = (0..items.len()).collect();
            SplitMix64::new(opts.seed).shuffle(&mut order);
            reference_order(items, xbar, &opts.rules, &order, cap)
        }
        Packer::Maxrects => greedy(items, xbar, &opts.rules, &sorted_order(items, Order::Area), cap),
        Packer::Search => search(items, xbar, opts, cap).map(|p| {
            let p = empty_crossbars(items, &p, &opts.rules, 4 * p.crossbars);
            ruin_and_recreate(items, &p, &opts.rules, opts.generations * 50, opts.seed)
        }),
    };
    result.ok_or_else(|| does_not_fit(items, xbar, opts))
}

fn does_not_fit(items: &[Item], xbar: Crossbar, opts: &PackOptions) -> PackError {
    no_fit(items, opts, super::lower_bound(items, xbar, &opts.rules))
}

/// The "does not fit" error with the area bound only: for feasibility probes, whose errors
/// nobody reads, the stronger bounds would cost more than the probe.
pub fn does_not_fit_by_area(items: &[Item], xbar: Crossbar, opts: &PackOptions) -> PackError {
    let bound = super::Bound {
        crossbars: super::bound::area_bound(items, xbar),
        reason: "by area",
    };
    no_fit(items, opts, bound)
}

fn no_fit(items: &[Item], opts: &PackOptions, bound: super::Bound) -> PackError {
    let cells: u64 = items.iter().map(Item::cells).sum();
    let r = &opts.rules;
    let mut rules = Vec::new();
    if r.layer_threshold >= 0 {
        rules.push(format!("layer threshold {}", r.layer_threshold));
    }
    if r.max_load > 0 {
        rules.push(format!("max load {}", r.max_load));
    }
    if let Some(p) = r.time_budget_ns {
        rules.push(format!("period {p:.1} ns"));
    }
    if r.diagonal && r.layer_threshold < 0 {
        rules.push("one layer's tiles only on a block diagonal".to_string());
    }
    PackError::DoesNotFit {
        budget: opts.budget.unwrap_or(0),
        tiles: items.len(),
        cells,
        bound: bound.crossbars,
        reason: bound.reason,
        rules: if rules.is_empty() {
            String::new()
        } else {
            format!(" (and the rules: {})", rules.join(", "))
        },
    }
}

/// The sorted item orders, each largest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// Cells, then rows.
    Area,
    /// Rows, then columns.
    Rows,
    /// Columns, then rows.
    Cols,
    /// The longer side, then cells.
    LongSide,
    /// Rows × copies of the layer, then cells (see [`sorted_order`]).
    ScarceFirst,
}

impl Order {
    /// Every order, in the sequence the packers try them.
    pub const ALL: [Order; 5] = [
        Order::Area,
        Order::Rows,
        Order::Cols,
        Order::LongSide,
        Order::ScarceFirst,
    ];
}

/// Item indices in `order`; ties by position (layer, copy, tile).
///
/// "Scarce first" (rows × copies of the layer, then area) serves many copies of thin tiles
/// under the layer threshold: each copy needs a crossbar of its own, so the layers with the
/// most copies go first, while every crossbar still has tile slots and rows for them; placed
/// last they open crossbars of their own (a tenth full) once the slots are taken.
pub fn sorted_order(items: &[Item], order_by: Order) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut copies: Vec<u64> = Vec::new();
    if order_by == Order::ScarceFirst {
        for it in items {
            if copies.len() <= it.layer {
                copies.resize(it.layer + 1, 0);
            }
            copies[it.layer] = copies[it.layer].max(it.copy as u64 + 1);
        }
    }
    let k = |it: &Item| -> (u64, u64) {
        match order_by {
            Order::Area => (it.cells(), it.rows as u64),
            Order::Rows => (it.rows as u64, it.cols as u64),
            Order::Cols => (it.cols as u64, it.rows as u64),
            Order::LongSide => (it.rows.max(it.cols) as u64, it.cells()),
            Order::ScarceFirst => (copies[it.layer] * it.rows as u64, it.cells()),
        }
    };
    order.sort_by(|&a, &b| k(&items[b]).cmp(&k(&items[a])).then(a.cmp(&b)));
    order
}

/// The orders [`sorted_order`] knows.
pub const ORDERS: usize = Order::ALL.len();

/// Greedy in `order`, each item to the fullest admitting crossbar it fits (least free area
/// after it; ties by best short side fit): crossbars fill up one by one, which keeps tile
/// slots for the small tiles that come last.
pub fn greedy_dense(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
) -> Option<Packing> {
    let area = xbar.cells();
    place_in_order(items, xbar, rules, order, cap, Fit::ShortSide, |bin, it, f| {
        (area.saturating_sub(bin.used_cells + it.cells()), f)
    })
}

/// The reference's placement, with distances measured on consistent axes.
fn reference_order(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
) -> Option<Packing> {
    // A constant score keeps the first opened crossbar that offers a fitting space.
    place_in_order(items, xbar, rules, order, cap, Fit::FarCorner, |_, _, _| 0u8)
}

/// Greedy global best-short-side-fit in the given order.
pub fn greedy(items: &[Item], xbar: Crossbar, rules: &Rules, order: &[usize], cap: usize) -> Option<Packing> {
    greedy_fit(items, xbar, rules, order, cap, Fit::ShortSide)
}

/// Greedy global best fit under a given free-rectangle rule.
pub fn greedy_fit(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
    fit: Fit,
) -> Option<Packing> {
    place_in_order(items, xbar, rules, order, cap, fit, |_, _, f| f)
}

/// Greedy global best-short-side-fit in the given order, on crossbars that the rules and also
/// `admit(bin, item)` allow (for constraints beyond [`Rules`], e.g. time conflicts).
pub fn greedy_where(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
    admit: impl Fn(&Bin, &Item) -> bool,
) -> Option<Packing> {
    place_where(items, xbar, rules, order, cap, Fit::ShortSide, admit, |_, _, f| f)
}

fn place_in_order<S: PartialOrd>(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
    fit_rule: Fit,
    score: impl Fn(&Bin, &Item, (usize, usize)) -> S,
) -> Option<Packing> {
    place_where(items, xbar, rules, order, cap, fit_rule, |_, _| true, score)
}

/// The loop every greedy packer shares: items in `order`, each to the admitting crossbar with
/// the smallest `score(bin, item, fit)` (ties: lower crossbar), where `fit` is the free
/// rectangle the bin offers under `fit_rule`; a new crossbar opens (up to `cap`) when none
/// admits the item.
#[allow(clippy::too_many_arguments)]
fn place_where<S: PartialOrd>(
    items: &[Item],
    xbar: Crossbar,
    rules: &Rules,
    order: &[usize],
    cap: usize,
    fit_rule: Fit,
    admit: impl Fn(&Bin, &Item) -> bool,
    score: impl Fn(&Bin, &Item, (usize, usize)) -> S,
) -> Option<Packing> {
    let mut bins: Vec<Bin> = Vec::new();
    let mut placements = vec![
        Placement {
            crossbar: 0,
            x: 0,
            y: 0
        };
        items.len()
    ];
    for &k in order {
        let it = &items[k];
        let mut best: Choice<S> = None;
        for (b, bin) in bins.iter().enumerate() {
            if !bin.could_fit(it) || !bin.admits(it, rules) || !admit(bin, it) {
                continue;
            }
            if let Some((p, q, x, y)) = bin.fit(it, fit_rule, rules) {
                let sc = score(bin, it, (p, q));
                if best.as_ref().is_none_or(|(bs, ..)| sc < *bs) {
                    best = Some((sc, b, x, y));
                }
            }
        }
        let (b, x, y) = match best {
            Some((_, b, x, y)) => (b, x, y),
            None => {
                if bins.len() >= cap {
                    return None;
                }
                bins.push(Bin::new(xbar.rows, xbar.cols));
                (bins.len() - 1, 0, 0)
            }
        };
        bins[b].place(it, x, y);
        placements[k] = Placement {
            crossbar: b as u32,
            x,
            y,
        };
    }
    Some(Packing {
        xbar,
        crossbars: bins.len(),
        placements,
    })
}

/// Quality of a packing: fewer crossbars first, then fuller crossbars (Σ fill², which
/// rewards emptying a crossbar that a later move might remove).
fn quality(items: &[Item], p: &Packing) -> (usize, i128) {
    let mut fill = vec![0u64; p.crossbars];
    for (it, pl) in items.iter().zip(&p.placements) {
        fill[pl.crossbar as usize] += it.cells();
    }
    let sq: i128 = fill.iter().map(|&f| (f as i128) * (f as i128)).sum();
    (p.crossbars, -sq)
}

/// Sorted orders, then a biased random-key genetic algorithm over orders.
fn search(items: &[Item], xbar: Crossbar, opts: &PackOptions, cap: usize) -> Option<Packing> {
    let n = items.len();
    let lower = super::bound::area_bound(items, xbar) as usize;
    let mut best: Option<(Packing, (usize, i128))> = None;
    let consider = |p: Option<Packing>, best: &mut Option<(Packing, (usize, i128))>| {
        if let Some(p) = p {
            let q = quality(items, &p);
            if best.as_ref().is_none_or(|(_, bq)| q < *bq) {
                *best = Some((p, q));
            }
        }
    };
    let orders: Vec<Vec<usize>> = Order::ALL.iter().map(|&o| sorted_order(items, o)).collect();
    // Quality of each sorted order's packing: they also seed the genetic search below.
    let mut sorted_quality = Vec::with_capacity(ORDERS);
    for order in &orders {
        let p = greedy(items, xbar, &opts.rules, order, cap);
        sorted_quality.push(p.as_ref().map_or((usize::MAX, 0), |p| quality(items, p)));
        consider(p, &mut best);
    }
    consider(greedy_dense(items, xbar, &opts.rules, &orders[4], cap), &mut best);
    if n < 2 || opts.generations == 0 || best.as_ref().is_some_and(|(p, _)| p.crossbars <= lower) {
        return best.map(|(p, _)| p);
    }
    // Random keys: an item's key is its rank in the decoded order. The population starts
    // from the sorted orders (so the search never ends worse) plus random ones.
    let mut rng = SplitMix64::new(opts.seed ^ 0x9e37_79b9_7f4a_7c15);
    let pop_size = 24usize;
    let elite = 5usize;
    let mutants = 5usize;
    let key_of = |order: &[usize]| {
        let mut keys = vec![0.0f64; n];
        for (r, &k) in order.iter().enumerate() {
            keys[k] = r as f64 / n as f64;
        }
        keys
    };
    let decode = |keys: &[f64]| {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
        order
    };
    let eval = |keys: &[f64]| -> (usize, i128) {
        match greedy(items, xbar, &opts.rules, &decode(keys), cap) {
            Some(p) => quality(items, &p),
            None => (usize::MAX, 0),
        }
    };
    let mut pop: Vec<(Vec<f64>, (usize, i128))> = Vec::with_capacity(pop_size);
    // (Keys decode back to the same order, so the qualities above stand.)
    for (order, &q) in orders.iter().zip(&sorted_quality).take(4) {
        pop.push((key_of(order), q));
    }
    // Perturbed area order: keeps big items early but shuffles among similar sizes.
    let base = key_of(&orders[0]);
    while pop.len() < pop_size {
        let k: Vec<f64> = base.iter().map(|&b| b + rng.next_f64() * 0.3).collect();
        let q = eval(&k);
        pop.push((k, q));
    }
    for _ in 0..opts.generations {
        pop.sort_by_key(|a| a.1);
        if pop[0].1.0 <= lower {
            break;
        }
        let mut next: Vec<(Vec<f64>, (usize, i128))> = pop[..elite].to_vec();
        for _ in 0..mutants {
            let k: Vec<f64> = (0..n).map(|_| rng.next_f64()).collect();
            let q = eval(&k);
            next.push((k, q));
        }
        while next.len() < pop_size {
            let a = &pop[rng.below(elite)].0;
            let b = &pop[elite + rng.below(pop_size - elite)].0;
            let k: Vec<f64> = (0..n)
                .map(|i| if rng.next_f64() < 0.7 { a[i] } else { b[i] })
                .collect();
            let q = eval(&k);
            next.push((k, q));
        }
        pop = next;
    }
    pop.sort_by_key(|a| a.1);
    if let Some((k, _)) = pop.first() {
        consider(greedy(items, xbar, &opts.rules, &decode(k), cap), &mut best);
    }
    best.map(|(p, _)| p)
}

/// Contention-aware greedy: items by decreasing time then area; each goes to the admitting
/// crossbar whose time budget it fills most tightly (heavy layers land alone, light ones
/// stack), ties by best short side fit; a new crossbar opens only when none admits it.
pub fn timed(items: &[Item], xbar: Crossbar, rules: &Rules, cap: usize) -> Option<Packing> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        let (ia, ib) = (&items[a], &items[b]);
        ib.time_ns
            .total_cmp(&ia.time_ns)
            .then(ib.cells().cmp(&ia.cells()))
            .then(a.cmp(&b))
    });
    // Tightest time fit first (largest load after), then area fit.
    place_in_order(
        items,
        xbar,
        rules,
        &order,
        cap,
        Fit::ShortSide,
        |bin, it, (s, l)| (-bin.time_after(it), s, l),
    )
}

/// Contention-aware, locality-first: items in execution order; each goes to the admitting
/// crossbar that most recently received a layer (neighbouring layers of one sample run one
/// after the other anyway, so sharing with them costs the pipeline least), ties by the
/// tightest time fit, then best short side fit.
pub fn local(items: &[Item], xbar: Crossbar, rules: &Rules, cap: usize) -> Option<Packing> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&k| (items[k].layer, std::cmp::Reverse(items[k].cells()), k));
    // The score's first key is the crossbar's latest layer, so crossbars are visited by
    // latest layer, newest first, and the scan stops after the first group where one fits:
    // every later group scores worse. Same choice as scanning all (ties: lower crossbar,
    // as each group is kept in crossbar order), without visiting every crossbar per tile.
    let layers = items.iter().map(|it| it.layer + 1).max().unwrap_or(0);
    let mut by_last: Vec<Vec<usize>> = vec![Vec::new(); layers];
    let mut bins: Vec<Bin> = Vec::new();
    let mut placements = vec![
        Placement {
            crossbar: 0,
            x: 0,
            y: 0
        };
        items.len()
    ];
    for &k in &order {
        let it = &items[k];
        let mut best: Choice<(f64, usize, usize)> = None;
        for group in by_last.iter().rev() {
            for &b in group {
                let bin = &bins[b];
                if !bin.could_fit(it) || !bin.admits(it, rules) {
                    continue;
                }
                if let Some((s, l, x, y)) = bin.fit(it, Fit::ShortSide, rules) {
                    let sc = (-bin.time_after(it), s, l);
                    if best.as_ref().is_none_or(|(bs, ..)| sc < *bs) {
                        best = Some((sc, b, x, y));
                    }
                }
            }
            if best.is_some() {
                break;
            }
        }
        let (b, x, y) = match best {
            Some((_, b, x, y)) => (b, x, y),
            None => {
                if bins.len() >= cap {
                    return None;
                }
                bins.push(Bin::new(xbar.rows, xbar.cols));
                (bins.len() - 1, 0, 0)
            }
        };
        let before = bins[b].layers.last().copied();
        bins[b].place(it, x, y);
        let after = bins[b].layers.last().copied().unwrap_or(0);
        if before != Some(after) {
            if let Some(l) = before
                && let Ok(pos) = by_last[l].binary_search(&b)
            {
                by_last[l].remove(pos);
            }
            let g = &mut by_last[after];
            let pos = g.partition_point(|&c| c < b);
            g.insert(pos, b);
        }
        placements[k] = Placement {
            crossbar: b as u32,
            x,
            y,
        };
    }
    Some(Packing {
        xbar,
        crossbars: bins.len(),
        placements,
    })
}

/// Improvement pass: repeatedly tries to empty the least-filled crossbar by moving each of
/// its tiles into the free space of the others (best short side fit, rules respected).
/// Crossbars are then renumbered densely. Never makes a packing worse.
pub fn empty_crossbars(items: &[Item], packing: &Packing, rules: &Rules, rounds: usize) -> Packing {
    let xbar = packing.xbar;
    let mut p = packing.clone();
    let rebuild = |p: &Packing| -> Vec<Bin> {
        let mut bins: Vec<Bin> = (0..p.crossbars).map(|_| Bin::new(xbar.rows, xbar.cols)).collect();
        // Place larger tiles first so each bin's free list is rebuilt from the same layout.
        let mut ks: Vec<usize> = (0..items.len()).collect();
        ks.sort_by_key(|&k| (p.placements[k].crossbar, p.placements[k].y, p.placements[k].x));
        for k in ks {
            let pl = p.placements[k];
            bins[pl.crossbar as usize].place(&items[k], pl.x, pl.y);
        }
        bins
    };
    let mut tried = vec![false; p.crossbars];
    for _ in 0..rounds {
        let bins = rebuild(&p);
        // The least-filled crossbar not yet tried.
        let Some(src) = (0..bins.len())
            .filter(|&b| !tried[b])
            .min_by_key(|&b| (bins[b].used_cells, b))
        else {
            break;
        };
        tried[src] = true;
        let mut moved = bins.clone();
        moved[src] = Bin::new(xbar.rows, xbar.cols);
        let mut ks: Vec<usize> = (0..items.len())
            .filter(|&k| p.placements[k].crossbar as usize == src)
            .collect();
        ks.sort_by_key(|&k| std::cmp::Reverse(items[k].cells()));
        let mut new_pl = p.placements.clone();
        let mut ok = true;
        for &k in &ks {
            let it = &items[k];
            let mut best: Choice<(usize, usize, usize)> = None;
            for (b, bin) in moved.iter().enumerate() {
                if b == src || !bin.admits(it, rules) {
                    continue;
                }
                if let Some((s, l, x, y)) = bin.best_fit(it, rules)
                    && best.is_none_or(|(bs, ..)| (s, l, b) < bs)
                {
                    best = Some(((s, l, b), b, x, y));
                }
            }
            let Some((_, b, x, y)) = best else {
                ok = false;
                break;
            };
            moved[b].place(it, x, y);
            new_pl[k] = Placement {
                crossbar: b as u32,
                x,
                y,
            };
        }
        if !ok {
            continue;
        }
        // Drop the emptied crossbar: ids above it move down by one.
        for pl in &mut new_pl {
            if pl.crossbar as usize > src {
                pl.crossbar -= 1;
            }
        }
        tried.remove(src);
        tried.iter_mut().for_each(|t| *t = false);
        p = Packing {
            xbar,
            crossbars: p.crossbars - 1,
            placements: new_pl,
        };
    }
    p
}

/// Large-neighbourhood search ("ruin and recreate"): removes every tile of a nearly empty
/// crossbar and of a few random others, and re-packs them from scratch into one crossbar
/// fewer (a win) or into as many, keeping the result when it concentrates the cells (Σ fill²
/// not lower, so the next nearly empty crossbar gets emptier). Rules are enforced by fresh
/// [`Bin`]s, so every accepted state is valid. Never makes a packing worse; deterministic in
/// `seed`.
pub fn ruin_and_recreate(
    items: &[Item],
    packing: &Packing,
    rules: &Rules,
    iterations: usize,
    seed: u64,
) -> Packing {
    let xbar = packing.xbar;
    let mut p = packing.clone();
    let mut rng = SplitMix64::new(seed ^ 0x5151_7a7a_0b0b_c3c3);
    let mut on: Vec<Vec<usize>> = vec![Vec::new(); p.crossbars];
    let mut fill = vec![0u64; p.crossbars];
    let rebuild = |p: &Packing, on: &mut Vec<Vec<usize>>, fill: &mut Vec<u64>| {
        on.iter_mut().for_each(Vec::clear);
        on.resize(p.crossbars, Vec::new());
        fill.clear();
        fill.resize(p.crossbars, 0);
        for (k, pl) in p.placements.iter().enumerate() {
            on[pl.crossbar as usize].push(k);
            fill[pl.crossbar as usize] += items[k].cells();
        }
    };
    rebuild(&p, &mut on, &mut fill);
    let sq = |f: u64| (f as i128) * (f as i128);
    let lower = super::bound::area_bound(items, xbar) as usize;
    // Stop after a long run of moves that change nothing (plateau moves do not count).
    let mut idle = 0usize;
    for _ in 0..iterations {
        if p.crossbars < 2 || p.crossbars <= lower || idle > 400 {
            break;
        }
        idle += 1;
        // Target: one of the three least-filled crossbars; then 1–4 random others.
        let mut by_fill: Vec<usize> = (0..p.crossbars).collect();
        by_fill.sort_by_key(|&b| (fill[b], b));
        let mut chosen = vec![by_fill[rng.below(3.min(by_fill.len()))]];
        let extra = (1 + rng.below(4)).min(p.crossbars - 1);
        while chosen.len() < 1 + extra {
            let b = rng.below(p.crossbars);
            if !chosen.contains(&b) {
                chosen.push(b);
            }
        }
        let ks: Vec<usize> = chosen.iter().flat_map(|&b| on[b].iter().copied()).collect();
        let sub: Vec<Item> = ks.iter().map(|&k| items[k]).collect();
        let before: i128 = chosen.iter().map(|&b| sq(fill[b])).sum();
        // Orders: decreasing area, then perturbed ones.
        let base = sorted_order(&sub, Order::Area);
        let mut orders = vec![base.clone(), sorted_order(&sub, Order::LongSide)];
        for _ in 0..4 {
            let mut keys: Vec<f64> = vec![0.0; sub.len()];
            for (r, &k) in base.iter().enumerate() {
                keys[k] = r as f64 / sub.len() as f64 + rng.next_f64() * 0.5;
            }
            let mut o: Vec<usize> = (0..sub.len()).collect();
            o.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]).then(a.cmp(&b)));
            orders.push(o);
        }
        let mut best: Option<(usize, i128, Packing)> = None;
        'outer: for m in [chosen.len() - 1, chosen.len()] {
            for o in &orders {
                for fit in [Fit::ShortSide, Fit::BottomLeft] {
                    let Some(q) = greedy_fit(&sub, xbar, rules, o, m, fit) else {
                        continue;
                    };
                    let mut f = vec![0u64; q.crossbars];
                    for (it, pl) in sub.iter().zip(&q.placements) {
                        f[pl.crossbar as usize] += it.cells();
                    }
                    let after: i128 = f.iter().map(|&v| sq(v)).sum();
                    if best
                        .as_ref()
                        .is_none_or(|(bm, ba, _)| (q.crossbars, -after) < (*bm, -*ba))
                    {
                        best = Some((q.crossbars, after, q));
                    }
                }
            }
            if best.as_ref().is_some_and(|(bm, ..)| *bm < chosen.len()) {
                break 'outer;
            }
        }
        let Some((used, after, q)) = best else { continue };
        if used == chosen.len() && after < before {
            continue;
        }
        if used < chosen.len() || after > before {
            idle = 0;
        }
        // Sub-crossbar j maps to chosen[j]; chosen crossbars left empty are removed.
        for (k, pl) in ks.iter().zip(&q.placements) {
            p.placements[*k] = Placement {
                crossbar: chosen[pl.crossbar as usize] as u32,
                x: pl.x,
                y: pl.y,
            };
        }
        if used < chosen.len() {
            let mut gone: Vec<usize> = chosen[used..].to_vec();
            gone.sort_unstable();
            let remap: Vec<u32> = (0..p.crossbars)
                .map(|b| (b - gone.partition_point(|&g| g < b)) as u32)
                .collect();
            for pl in &mut p.placements {
                pl.crossbar = remap[pl.crossbar as usize];
            }
            p.crossbars -= gone.len();
        }
        rebuild(&p, &mut on, &mut fill);
    }
    p
}
