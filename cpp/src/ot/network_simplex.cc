// Network simplex for dense transportation problems (see network_simplex.h).
#include "network_simplex.h"

#include <math.h>
#include <string.h>

#include <algorithm>
#include <limits>

namespace sc {
namespace ot {

namespace {
constexpr double kRelTol = 1e-12;  // a reduced cost counts as negative below -kRelTol * scale
constexpr int kMaxBitWords = 4;    // bitset trees for n + m + 1 <= 256 nodes
// Vogel's start while its keys fit: the index along a line takes the low
// bits of a float key (12 bits leave 11 of the mantissa), and KT + KTT hold
// 8 bytes per arc.
constexpr int kVogelMaxLine = 4096;
constexpr int64_t kVogelMaxArcs = int64_t(1) << 24;
constexpr int64_t kFloatMaxArcs = int64_t(1) << 26;
constexpr double kInf = std::numeric_limits<double>::infinity();

// Bits set in x (portable: the generic level has no popcnt instruction, and
// __builtin_popcountll would be a library call).
inline int popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
}

float key_value(uint32_t key, uint32_t low) {
  const uint32_t u = key & ~low;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}
}  // namespace

// ---------------------------------------------------------------------------
// Starts.  Each step removes one line; the final line(s) stay.  Rows are
// nodes 0..n-1, columns n..n+m-1.
// ---------------------------------------------------------------------------

// Vogel's approximation on T = (C - row minima) + (C - column minima): the
// line (row or column) with the largest penalty (second cheapest minus
// cheapest active cell) allocates on its cheapest cell; ties go to the first
// line (rows before columns).  A line's two cheapest cells are recomputed
// only when one of them is removed.
void NetworkSimplex::start_vogel() {
  const int n = n_, m = m_, L = std::max(n, m);
  int ib = 0;
  while ((1 << ib) < L) ++ib;
  const uint32_t low = (uint32_t(1) << ib) - 1;
  const size_t nm = static_cast<size_t>(n) * m;
  KT_.resize(nm);
  KTT_.resize(nm);
  rmin_.resize(n);
  cmin_.resize(m);
  K_->emd_toc_keys(C_, ldc_, n, m, ib, rmin_.data(), cmin_.data(), KT_.data(), KTT_.data());
  rmask_u_.assign(n, 0u);
  cmask_u_.assign(m, 0u);
  pen_.resize(n + m);
  l1_.resize(n + m);
  l2_.resize(n + m);
  bits_scratch_.resize((L + 63) / 64);
  auto line = [&](int q) {  // q < n: row q; else column q - n
    uint32_t k1, k2;
    if (q < n) K_->emd_two_min(KT_.data() + static_cast<size_t>(q) * m, cmask_u_.data(), m, &k1, &k2);
    else K_->emd_two_min(KTT_.data() + static_cast<size_t>(q - n) * n, rmask_u_.data(), n, &k1, &k2);
    l1_[q] = k1 == ~0u ? -1 : static_cast<int32_t>(k1 & low);
    l2_[q] = k2 == ~0u ? -1 : static_cast<int32_t>(k2 & low);
    pen_[q] = k2 != ~0u ? key_value(k2, low) - key_value(k1, low) : (k1 != ~0u ? HUGE_VALF : -1.f);
  };
  const int nl = n + m;
  for (int q = 0; q < nl; ++q) line(q);
  int rl = n, cl = m;
  while (rl > 0 && cl > 0) {
    const int q = static_cast<int>(K_->emd_argmax(pen_.data(), nl));
    prefetch_->step(1);
    const int i = q < n ? q : l1_[q], j = q < n ? l1_[q] : q - n;
    const double x = std::min(sup_[i], dem_[j]);
    sup_[i] -= x;
    dem_[j] -= x;
    const bool drop_row = cl == 1 || (sup_[i] <= 0 && (rl > 1 || dem_[j] > 0));
    int base, len, t;
    const int gone = drop_row ? i : n + j;
    steps_.push_back({gone, drop_row ? n + j : i, x});
    if (drop_row) {
      rmask_u_[i] = ~0u;
      --rl;
      base = n, len = m, t = i;
    } else {
      cmask_u_[j] = ~0u;
      --cl;
      base = 0, len = n, t = j;
    }
    pen_[gone] = -1.f;
    l1_[gone] = l2_[gone] = -1;
    // The other kind's lines whose cheapest or second cheapest cell left.
    K_->emd_match2(l1_.data() + base, l2_.data() + base, len, t, bits_scratch_.data());
    for (int w = 0; w * 64 < len; ++w)
      for (uint64_t bw = bits_scratch_[w]; bw; bw &= bw - 1) line(base + w * 64 + __builtin_ctzll(bw));
  }
}

// Row minimum: each row in turn sends its supply to its cheapest columns
// with demand left; an exhausted column leaves (while another remains), else
// the row leaves.
void NetworkSimplex::start_rowmin() {
  const int n = n_, m = m_;
  zero_.assign(n, 0.0);
  colmask_.assign(m, 0.0);  // 0: active, -inf: removed (prices to +inf)
  int cl = m;
  for (int i = 0; i < n; ++i) {
    for (;;) {
      int64_t arg = -1;
      K_->emd_price_rows(C_ + i * ldc_, ldc_, m, zero_.data(), colmask_.data(), 0, 1, &arg);
      const int j = static_cast<int>(arg);  // >= 0: one column is always active
      const double x = std::min(sup_[i], dem_[j]);
      sup_[i] -= x;
      dem_[j] -= x;
      if (dem_[j] <= 0 && cl > 1) {
        steps_.push_back({n + j, i, x});
        colmask_[j] = -kInf;
        --cl;
      } else {
        steps_.push_back({i, n + j, x});
        break;
      }
    }
  }
}

// The steps -> a strongly feasible rooted tree.  A step of positive flow
// makes `removed` a child of `other`; a zero-flow step cuts instead (its
// node roots a tree of its own).  Steps come children first, so one pass
// sums each subtree's imbalance (the residual supplies, rounding-level for a
// complete start).  Each tree hangs from the root by an artificial arc that
// carries its imbalance: a source -> root when it is >= 0 (a zero-flow arc
// pointing up), root -> a sink when it is < 0 (positive flow).  When the
// tree's top node has the other type, one of its children (the other type)
// takes its place.  Every zero-flow tree arc then points towards the root.
void NetworkSimplex::build_tree() {
  const int N = N_, n = n_, root = N;
  parent_.assign(N + 1, -1);
  flow_.assign(N + 1, 0.0);
  pi_.assign(N + 1, 0.0);
  imb_.resize(N + 1);
  child_.assign(N + 1, -1);
  swap_.assign(N + 1, -1);
  removed_.assign(N + 1, 0);
  moved_.assign(N + 1, 0);
  ord_.clear();
  for (int i = 0; i < n; ++i) imb_[i] = sup_[i];
  for (int j = 0; j < m_; ++j) imb_[n + j] = -dem_[j];
  for (const Step& s : steps_) {
    ord_.push_back(s.removed);
    removed_[s.removed] = 1;
    if (s.x > 0) {
      parent_[s.removed] = s.other;
      flow_[s.removed] = s.x;
      child_[s.other] = s.removed;
    }
  }
  for (int v = 0; v < N; ++v)
    if (!removed_[v]) ord_.push_back(v);
  for (const int v : ord_)
    if (parent_[v] >= 0) imb_[parent_[v]] += imb_[v];
  for (const int v : ord_) {
    if (parent_[v] >= 0) continue;
    const double I = imb_[v];
    const bool want_source = I >= 0;
    int anchor = v;
    if ((v < n) != want_source && child_[v] >= 0) {
      // Re-root at a child c: the arc c-v (positive flow) is now stored at v.
      const int c = child_[v];
      parent_[v] = c;
      flow_[v] = flow_[c];
      moved_[c] = 1;
      swap_[v] = c;
      anchor = c;
    }
    parent_[anchor] = root;
    flow_[anchor] = (anchor < n) == want_source ? std::fabs(I) : 0.0;
  }
  // ord2_: children before parents (a re-rooted pair swaps places).
  ord2_.clear();
  for (const int v : ord_) {
    if (moved_[v]) continue;
    ord2_.push_back(v);
    if (swap_[v] >= 0) ord2_.push_back(swap_[v]);
  }
  // Potentials from the root down: a source w under p (arc w -> p) has
  // pi_w = pi_p - c, a sink w (arc p -> w) pi_w = pi_p + c.
  pi_[root] = root_potential();
  for (int q = static_cast<int>(ord2_.size()) - 1; q >= 0; --q) {
    const int w = ord2_[q], p = parent_[w];
    if (w < n) pi_[w] = pi_[p] - (p == root ? art_ : C_[w * ldc_ + (p - n)]);
    else pi_[w] = pi_[p] + (p == root ? art_ : C_[p * ldc_ + (w - n)]);
  }
  bits_ = N + 1 <= 64 * kMaxBitWords;
  if (bits_) init_bits();
  else init_preorder();
}

void NetworkSimplex::init_bits() {
  const int N = N_;
  W_ = (N + 1 + 63) / 64;
  desc_.assign(static_cast<size_t>(N + 1) * W_, 0);
  for (int v = 0; v <= N; ++v) desc_[static_cast<size_t>(v) * W_ + (v >> 6)] |= uint64_t(1) << (v & 63);
  for (const int v : ord2_) {
    const int p = parent_[v];
    for (int w = 0; w < W_; ++w) desc_[static_cast<size_t>(p) * W_ + w] |= desc_[static_cast<size_t>(v) * W_ + w];
  }
}

void NetworkSimplex::init_preorder() {
  const int N = N_, root = N;
  pre_.resize(N + 1 + 8);  // + 8: chunked copies may read past the end
  tmp_.resize(N + 1 + 8);
  pos_.resize(N + 1);
  size_.assign(N + 1, 1);
  first_.assign(N + 1, -1);
  next_.assign(N + 1, -1);
  for (const int v : ord2_) {
    next_[v] = first_[parent_[v]];
    first_[parent_[v]] = v;
    size_[parent_[v]] += size_[v];
  }
  int k = 0, w = root;
  for (;;) {
    pre_[k] = w;
    pos_[w] = k++;
    if (first_[w] >= 0) {
      w = first_[w];
      continue;
    }
    while (w != root && next_[w] < 0) w = parent_[w];
    if (w == root) break;
    w = next_[w];
  }
}

// ---------------------------------------------------------------------------
// Pivots
// ---------------------------------------------------------------------------

// The cycle of entering arc k -> l: pk_ = k, parent(k), ... up to the apex
// (excluded), pl_ the same from l.  Sides alternate source/sink from their
// ends (pk_[0] = k a source, pl_[0] = l a sink), so blocking arcs -- those
// traversed against their direction -- are the even entries of both sides.
// Leaving arc: the last blocking arc met in cycle order from the apex, so
// strict < on the k side keeps the arc nearest k, <= on the l side the arc
// nearest the apex, and the l side wins ties.
template <class IsAncestor>
NetworkSimplex::Cycle NetworkSimplex::find_cycle(int k, int l, IsAncestor is_ancestor) {
  const int32_t* parent = parent_.data();
  const double* flow = flow_.data();
  int32_t* pk = pk_.data();
  int32_t* pl = pl_.data();
  Cycle c{};
  c.delta = kInf;
  int out = -1;  // an index into pk (>= 0) or ~index into pl
  int u = k;
  while (!is_ancestor(u, l)) {
    const bool lt = !(c.nk & 1) && flow[u] < c.delta;
    c.delta = lt ? flow[u] : c.delta;
    out = lt ? c.nk : out;
    pk[c.nk++] = u;
    u = parent[u];
  }
  const int apex = u;
  for (u = l; u != apex; u = parent[u]) {
    const bool le = !(c.nl & 1) && flow[u] <= c.delta;
    c.delta = le ? flow[u] : c.delta;
    out = le ? ~c.nl : out;
    pl[c.nl++] = u;
  }
  c.on_l = out < 0;
  c.t_out = c.on_l ? ~out : out;
  c.path = c.on_l ? pl : pk;
  c.other = c.on_l ? pk : pl;
  c.np = c.on_l ? c.nl : c.nk;
  c.no = c.on_l ? c.nk : c.nl;
  c.v_in = c.on_l ? k : l;
  return c;
}

void NetworkSimplex::pivot(int k, int l, double rc) {
  if (bits_) pivot_bits(k, l, rc);
  else pivot_preorder(k, l, rc);
}

// Let path = p_0 = u_in, ..., p_t = u_out be the side holding the leaving
// arc (stored at u_out) and `other` the other side, from v_in.  Flows change
// by -delta at even entries (blocking direction) and +delta at odd ones.
// The subtree S below the leaving arc hangs from v_in by the entering arc
// after the pivot; its potentials shift so that the entering reduced cost
// C_kl + pi_k - pi_l becomes 0: by -rc when S holds k, by +rc when it holds l.
void NetworkSimplex::pivot_bits(int k, int l, double rc) {
  const int W = W_;
  uint64_t* desc = desc_.data();
  const Cycle c = find_cycle(k, l, [desc, W](int u, int v) {
    return (desc[static_cast<size_t>(u) * W + (v >> 6)] >> (v & 63)) & 1;
  });
  int32_t* parent = parent_.data();
  double* flow = flow_.data();
  int32_t* path = c.path;
  const int np = c.np, no = c.no, u_in = path[0], u_out = path[c.t_out], v_in = c.v_in;
  const int32_t* other = c.other;
  const double dd[2] = {-c.delta, c.delta};
  uint64_t S[kMaxBitWords];
  for (int w = 0; w < W; ++w) S[w] = desc[static_cast<size_t>(u_out) * W + w];
  K_->emd_masked_add(pi_.data(), pf_on_ ? pf_.data() : nullptr, S, N_ + 1, c.on_l ? rc : -rc);
  // The other side gains S; the out side above u_out loses it.
  for (int t = 0; t < no; ++t) {
    const int v = other[t];
    flow[v] += dd[t & 1];
    for (int w = 0; w < W; ++w) desc[static_cast<size_t>(v) * W + w] |= S[w];
  }
  for (int t = c.t_out + 1; t < np; ++t) {
    const int v = path[t];
    flow[v] += dd[t & 1];
    for (int w = 0; w < W; ++w) desc[static_cast<size_t>(v) * W + w] &= ~S[w];
  }
  // The path reverses from the top: desc'(p_i) = desc(p_i) \ desc(p_{i-1})
  // | desc'(p_{i+1}); the arc p_{i-1}-p_i (flow augmented) is stored at p_i.
  uint64_t above[kMaxBitWords] = {0, 0, 0, 0};
  for (int i = c.t_out; i >= 1; --i) {
    const int v = path[i], ch = path[i - 1];
    for (int w = 0; w < W; ++w) {
      const uint64_t x = (desc[static_cast<size_t>(v) * W + w] & ~desc[static_cast<size_t>(ch) * W + w]) | above[w];
      desc[static_cast<size_t>(v) * W + w] = x;
      above[w] = x;
    }
    flow[v] = flow[ch] + dd[(i - 1) & 1];
    parent[v] = ch;
  }
  for (int w = 0; w < W; ++w) desc[static_cast<size_t>(u_in) * W + w] = S[w];
  flow[u_in] = c.delta;
  parent[u_in] = v_in;
}

void NetworkSimplex::pivot_preorder(int k, int l, double rc) {
  int32_t* pos = pos_.data();
  int32_t* size = size_.data();
  const Cycle c = find_cycle(k, l, [pos, size](int u, int v) {
    return static_cast<unsigned>(pos[v] - pos[u]) < static_cast<unsigned>(size[u]);
  });
  int32_t* parent = parent_.data();
  int32_t* pre = pre_.data();
  double* flow = flow_.data();
  double* pi = pi_.data();
  int32_t* path = c.path;
  const int np = c.np, no = c.no, u_in = path[0], u_out = path[c.t_out], v_in = c.v_in;
  const int32_t* other = c.other;
  const double dd[2] = {-c.delta, c.delta};
  const int s = size[u_out], a0 = pos[u_out];
  const double sigma = c.on_l ? rc : -rc;
  if (pf_on_) {
    float* pf = pf_.data();
    for (int q = a0; q < a0 + s; ++q) {
      const int v = pre[q];
      pi[v] += sigma;
      pf[v] = static_cast<float>(pi[v]);
    }
  } else {
    for (int q = a0; q < a0 + s; ++q) pi[pre[q]] += sigma;
  }
  // The re-rooted subtree's preorder into tmp: S(p_0), then for each p_i its
  // old subtree less S(p_{i-1}): [pos p_i, pos p_{i-1}) and [end p_{i-1},
  // end p_i).  Ranges are copied in chunks of 8 (pre_ and tmp_ are padded; a
  // chunk may write past its range, and the next range overwrites that).
  int32_t* tmp = tmp_.data();
  {
    auto copy = [&](int at, int b, int e) {
      for (int q = 0; q < e - b; q += 8) memcpy(tmp + at + q, pre + b + q, 8 * sizeof(int32_t));
      return at + (e - b);
    };
    int b0 = pos[u_in], e0 = b0 + size[u_in];
    int at = copy(0, b0, e0);
    for (int i = 1; i <= c.t_out; ++i) {
      const int bi = pos[path[i]], ei = bi + size[path[i]];
      at = copy(at, bi, b0);
      at = copy(at, e0, ei);
      b0 = bi;
      e0 = ei;
    }
  }
  // Flows and sizes: the other side gains s, the out side above u_out loses
  // it; along the path s'(p_t) = s(p_t) - s(p_{t-1}), s'(p_i) = s(p_i) -
  // s(p_{i-1}) + s'(p_{i+1}), s'(p_0) = s (old sizes read before written).
  for (int t = 0; t < no; ++t) {
    flow[other[t]] += dd[t & 1];
    size[other[t]] += s;
  }
  for (int t = c.t_out + 1; t < np; ++t) {
    flow[path[t]] += dd[t & 1];
    size[path[t]] -= s;
  }
  int above = 0;
  for (int i = c.t_out; i >= 1; --i) {
    const int v = path[i], ch = path[i - 1];
    const int s_new = size[v] - size[ch] + above;
    size[v] = s_new;
    above = s_new;
    flow[v] = flow[ch] + dd[(i - 1) & 1];
    parent[v] = ch;
  }
  size[u_in] = s;
  flow[u_in] = c.delta;
  parent[u_in] = v_in;
  // Move the block next to v_in: as its first child (right after v_in) or
  // its last (right after v_in's subtree), whichever moves fewer entries.
  // Positions here are in the array without the block, where v_in's subtree
  // has size[v_in] - s entries (v_in's size counts the block now, also when
  // v_in is the apex and held it before).
  const int pv = pos[v_in] < a0 ? pos[v_in] : pos[v_in] - s;
  const int c1 = pv + 1, c2 = pv + size[v_in] - s;
  const int dst = std::abs(c1 - a0) <= std::abs(c2 - a0) ? c1 : c2;
  if (dst <= a0) {
    for (int q = a0 - 1; q >= dst; --q) {
      pre[q + s] = pre[q];
      pos[pre[q]] = q + s;
    }
  } else {
    for (int q = a0; q < dst; ++q) {
      pre[q] = pre[q + s];
      pos[pre[q]] = q;
    }
  }
  for (int q = 0; q < s; ++q) {
    pre[dst + q] = tmp[q];
    pos[tmp[q]] = dst + q;
  }
}

// ---------------------------------------------------------------------------
// Pricing and the driver
// ---------------------------------------------------------------------------

// Scans blocks of block_rows rows from `row` (cyclically); returns true with
// the entering arc of the first block whose best arc has a reduced cost
// below -kRelTol * max(|C_ij|, |pi_i|, |pi_j|), false when a full cycle over
// the rows finds none.  f32: the block's best arc by the float copies, kept
// only if its exact reduced cost (double) qualifies.
bool NetworkSimplex::price(int64_t& row, int64_t block_rows, bool f32, int64_t& arc, double& rc) {
  const double* pj = pi_.data() + n_;
  int64_t scanned = 0;
  while (scanned < n_) {
    const int64_t len = std::min<int64_t>({block_rows, n_ - row, n_ - scanned});
    int64_t a = -1;
    if (f32) {
      const float r = K_->emd_price_rows_f32(Cf_.data(), m_, m_, pf_.data(), pf_.data() + n_, row, len, &a);
      if (!(r < 0)) a = -1;
    } else {
      K_->emd_price_rows(C_, ldc_, m_, pi_.data(), pj, row, len, &a);
    }
    scanned += len;
    row += len;
    if (row >= n_) row = 0;
    if (a >= 0) {
      const int64_t i = a / m_, j = a - i * m_;
      const double cij = C_[i * ldc_ + j];
      const double r = (cij - pj[j]) + pi_[i];
      const double scale = std::max({std::fabs(cij), std::fabs(pi_[i]), std::fabs(pj[j])});
      if (r < -kRelTol * scale) {
        arc = a;
        rc = r;
        return true;
      }
    }
  }
  return false;
}

// The root's potential: +art_ when most of the root's children are sources
// (a source top then gets exactly 0), else -art_ (a sink top gets 0).  Only
// differences of potentials matter; this keeps the real nodes' potentials at
// the size of the real costs instead of the artificial arcs' (2 max |C|),
// which matters when a few huge costs (1e8..1e10 for forbidden pairs) would
// otherwise set the rounding, and the pricing tolerance, of every reduced cost.
double NetworkSimplex::root_potential() const {
  int src = 0, snk = 0;
  for (int v = 0; v < N_; ++v)
    if (parent_[v] == N_) (v < n_ ? src : snk)++;
  return src >= snk ? art_ : -art_;
}

// Tree flows recomputed from the supplies, children first (the reverse of
// the parents-first order of recompute_potentials): the flow on v's arc is
// the net supply of v's subtree.  Sums below rounding (those of a degenerate
// basic arc, whose exact flow is 0) become exactly 0, so no residual mass
// stays on an arc that carries none in the exact basic solution.
void NetworkSimplex::exact_flows(const double* a, const double* b) {
  const int N = N_, n = n_;
  imb_.resize(N + 1);
  double mass = 0;
  for (int i = 0; i < n; ++i) {
    imb_[i] = a[i];
    mass += a[i];
  }
  for (int j = 0; j < m_; ++j) imb_[n + j] = -b[j];
  const double tiny = 4.0 * (N + 1) * std::numeric_limits<double>::epsilon() * mass;
  for (int q = N; q >= 1; --q) {
    const int v = pre_[q], p = parent_[v];
    const double x = v < n ? imb_[v] : -imb_[v];
    flow_[v] = std::fabs(x) <= tiny ? 0.0 : x;
    if (p != N) imb_[p] += imb_[v];
  }
}

// Exact potentials from the tree, parents first: the preorder, or in bitset
// mode the nodes by decreasing subtree size (a parent's subtree is larger
// than each child's).
void NetworkSimplex::recompute_potentials() {
  const int N = N_, n = n_, root = N;
  const int32_t* order = pre_.data();
  if (bits_) {
    std::vector<int32_t>& cnt = first_;
    std::vector<int32_t>& sz = next_;
    cnt.assign(N + 2, 0);
    sz.resize(N + 1);
    for (int v = 0; v <= N; ++v) {
      int s = 0;
      for (int w = 0; w < W_; ++w) s += popcount64(desc_[static_cast<size_t>(v) * W_ + w]);
      sz[v] = s;
      ++cnt[N + 1 - s];
    }
    int acc = 0;
    for (int s = 0; s <= N + 1; ++s) {
      const int t = cnt[s];
      cnt[s] = acc;
      acc += t;
    }
    pre_.resize(N + 1);
    for (int v = 0; v <= N; ++v) pre_[cnt[N + 1 - sz[v]]++] = v;
    order = pre_.data();
  }
  pi_[root] = root_potential();
  for (int q = 1; q <= N; ++q) {
    const int w = order[q], p = parent_[w];
    if (w < n) pi_[w] = pi_[p] - (p == root ? art_ : C_[w * ldc_ + (p - n)]);
    else pi_[w] = pi_[p] + (p == root ? art_ : C_[p * ldc_ + (w - n)]);
  }
}

int8_t NetworkSimplex::solve(const double* C, int64_t ldc, int n, int m, const double* a, const double* b,
                             double cmax, int64_t max_iter, int64_t block, int start, const OtKernels<double>& K,
                             int64_t* pivots, Prefetch* prefetch) {
  Prefetch none;
  prefetch_ = prefetch ? prefetch : &none;
  C_ = C;
  ldc_ = ldc;
  n_ = n;
  m_ = m;
  N_ = n + m;
  K_ = &K;
  // The artificial arcs' cost sets the potentials' offset, so it scales with
  // the costs: a fixed 1 + cmax swamped costs far below 1 in rounding (1e-30
  // costs then looked optimal from the start).  Any positive value works:
  // artificial arcs never enter and carry only rounding-level flow.
  art_ = cmax > 0 ? 2.0 * cmax : 1.0;
  pk_.resize(N_ + 1);
  pl_.resize(N_ + 1);
  sup_.assign(a, a + n);
  dem_.assign(b, b + m);
  steps_.clear();
  steps_.reserve(N_);
  const int64_t total = static_cast<int64_t>(n) * m;
  const bool vogel_fits = std::max(n, m) <= kVogelMaxLine && total <= kVogelMaxArcs;
  if (start == kStartVogel || (start == kStartAuto && vogel_fits)) start_vogel();
  else start_rowmin();
  build_tree();

  if (block <= 0) block = std::max<int64_t>(1024, static_cast<int64_t>(std::sqrt(double(total))));
  const int64_t block_rows = std::max<int64_t>(1, std::min<int64_t>(n, (block + m - 1) / m));
  int64_t row = 0, count = 0;
  int8_t status = SC_OT_STATUS_CONVERGED;
  int64_t arc = -1;
  double rc = 0;
  auto run = [&](bool f32) {
    while (price(row, block_rows, f32, arc, rc)) {
      if (max_iter > 0 && count >= max_iter) {
        status = SC_OT_STATUS_MAX_ITER;
        return;
      }
      pivot(static_cast<int>(arc / m), n + static_cast<int>(arc % m), rc);
      ++count;
      prefetch_->step(4);
    }
  };
  // Float candidates first, while they last (when the costs fit a float
  // comfortably and the copy costs at most half the matrix's memory again).
  bool exact = false;  // pi_ recomputed from the tree since the last pivot
  if (cmax < 1e30 && total <= kFloatMaxArcs) {
    Cf_.resize(static_cast<size_t>(total));
    pf_.resize(N_ + 1);
    K.emd_to_f32(C, ldc, n, m, Cf_.data(), m);
    for (int v = 0; v <= N_; ++v) pf_[v] = static_cast<float>(pi_[v]);
    pf_on_ = true;
    run(true);
    pf_on_ = false;
    // Exact potentials before the double search: when it then finds no arc,
    // that search was already the confirming pass (no second full scan).
    recompute_potentials();
    exact = status == SC_OT_STATUS_CONVERGED;
  }
  for (int round = 0; status == SC_OT_STATUS_CONVERGED; ++round) {
    const int64_t before = count;
    run(false);
    if (exact && count == before && status == SC_OT_STATUS_CONVERGED) break;
    exact = false;
    recompute_potentials();
    if (status != SC_OT_STATUS_CONVERGED) break;
    // Exact potentials: one more full pricing pass confirms optimality.
    int64_t r0 = 0;
    if (!price(r0, n, false, arc, rc)) break;
    if (round >= 3) {
      // Still a negative reduced cost after exact repricing: reported.
      status = SC_OT_STATUS_DUAL_INFEASIBLE;
      break;
    }
  }
  if (status == SC_OT_STATUS_MAX_ITER) recompute_potentials();
  exact_flows(a, b);
  *pivots = count;
  prefetch_ = nullptr;
  return status;
}

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

void NetworkSimplex::duals(double* f, double* g) const {
  for (int i = 0; i < n_; ++i) f[i] = -pi_[i];
  for (int j = 0; j < m_; ++j) g[j] = pi_[n_ + j];
}

int64_t NetworkSimplex::plan(int32_t* rows, int32_t* cols, double* vals) {
  // Counting sort by row, then insertion sort of each row's few columns.
  std::vector<int32_t>& start = first_;
  start.assign(n_ + 1, 0);
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || !(flow_[v] > 0)) continue;
    ++start[(v < n_ ? v : p) + 1];
  }
  for (int i = 0; i < n_; ++i) start[i + 1] += start[i];
  const int64_t total = start[n_];
  std::vector<int32_t>& fill = next_;
  fill.assign(start.begin(), start.end());
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || !(flow_[v] > 0)) continue;
    const int i = v < n_ ? v : p, j = (v < n_ ? p : v) - n_;
    int q = fill[i]++;
    rows[q] = i;
    while (q > start[i] && cols[q - 1] > j) {
      cols[q] = cols[q - 1];
      vals[q] = vals[q - 1];
      --q;
    }
    cols[q] = j;
    vals[q] = flow_[v];
  }
  return total;
}

double NetworkSimplex::cost() const {
  double s = 0;
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || flow_[v] <= 0) continue;
    const int i = v < n_ ? v : p, j = (v < n_ ? p : v) - n_;
    s += flow_[v] * C_[i * ldc_ + j];
  }
  return s;
}

double NetworkSimplex::support_max_cost() const {
  double s = 0;
  for (int v = 0; v < N_; ++v) {
    const int p = parent_[v];
    if (p == N_ || flow_[v] <= 0) continue;
    const int i = v < n_ ? v : p, j = (v < n_ ? p : v) - n_;
    s = std::max(s, std::fabs(C_[i * ldc_ + j]));
  }
  return s;
}

double NetworkSimplex::artificial_flow() const {
  double s = 0;
  for (int v = 0; v < N_; ++v)
    if (parent_[v] == N_) s += flow_[v];
  return s;
}

}  // namespace ot
}  // namespace sc
