//! Fast SM2 point arithmetic for verifying: Montgomery field arithmetic specialised to the SM2 prime,
//! Jacobian coordinates with the a = -3 doubling, a precomputed comb table for the base point G, and a width-5
//! wNAF for the public key.
//!
//! Why: the generic `sm2` crate uses complete projective formulas and no base-point table, which makes a seal
//! verification slower than OpenSSL's. Scalar arithmetic mod n, key parsing and curve-point validation still come
//! from the `sm2` crate; this module only multiplies points, and only public ones: it never sees a private key
//! or a nonce. Signing goes through the `sm2` crate (RFC 6979 nonces) in `sm.rs`, so that secrets are handled
//! only by audited code; verification handles public data and may branch. Differential tests against the
//! `sm2` crate are at the end of the file and in `tests/differential.rs`.
#![allow(clippy::indexing_slicing)] // fixed-size arrays indexed by loop counters and 4-bit digits, never by input lengths

use std::sync::OnceLock;

use sm2::elliptic_curve::ff::PrimeField;
use sm2::elliptic_curve::ops::Reduce;
use sm2::{FieldBytes, Scalar};

/// p = 2^256 - 2^224 - 2^96 + 2^64 - 1, little-endian limbs.
const P: [u64; 4] = [
    0xffffffffffffffff,
    0xffffffff00000000,
    0xffffffffffffffff,
    0xfffffffeffffffff,
];
/// 2^512 mod p, to enter Montgomery form.
const R2: [u64; 4] = [
    0x0000000200000003,
    0x00000002ffffffff,
    0x0000000100000001,
    0x0000000400000002,
];
/// 1 in Montgomery form (2^256 mod p).
const ONE: Fe = Fe([
    0x0000000000000001,
    0x00000000ffffffff,
    0x0000000000000000,
    0x0000000100000000,
]);

/// A field element mod p in Montgomery form, fully reduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Fe([u64; 4]);

#[inline(always)]
fn adc(a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(a) + u128::from(b) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

#[inline(always)]
fn sbb(a: u64, b: u64, borrow: u64) -> (u64, u64) {
    let t = u128::from(a).wrapping_sub(u128::from(b) + u128::from(borrow));
    (t as u64, (t >> 127) as u64)
}

#[inline(always)]
fn mac(acc: u64, a: u64, b: u64, carry: u64) -> (u64, u64) {
    let t = u128::from(acc) + u128::from(a) * u128::from(b) + u128::from(carry);
    (t as u64, (t >> 64) as u64)
}

/// Subtracts m when `hi:v` ≥ m (constant time).
#[inline(always)]
fn reduce_once_mod(v: [u64; 4], hi: u64, m: &[u64; 4]) -> [u64; 4] {
    let (r0, b) = sbb(v[0], m[0], 0);
    let (r1, b) = sbb(v[1], m[1], b);
    let (r2, b) = sbb(v[2], m[2], b);
    let (r3, b) = sbb(v[3], m[3], b);
    let (_, b) = sbb(hi, 0, b);
    // b = 1: v < m, keep v
    let keep = 0u64.wrapping_sub(b);
    [
        (v[0] & keep) | (r0 & !keep),
        (v[1] & keep) | (r1 & !keep),
        (v[2] & keep) | (r2 & !keep),
        (v[3] & keep) | (r3 & !keep),
    ]
}

/// Montgomery product a·b·2^-256 mod m (CIOS) for an odd 256-bit m with n0 = -m^-1 mod 2^64. Inlined with
/// constant arguments, so for p (n0 = 1) the extra multiplication folds away.
#[inline(always)]
fn mont_mul(a: &[u64; 4], b: &[u64; 4], m: &[u64; 4], n0: u64) -> [u64; 4] {
    let mut t = [0u64; 4];
    let mut t4 = 0u64;
    for &ai in a {
        let (x0, c) = mac(t[0], ai, b[0], 0);
        let (x1, c) = mac(t[1], ai, b[1], c);
        let (x2, c) = mac(t[2], ai, b[2], c);
        let (x3, c) = mac(t[3], ai, b[3], c);
        let (x4, x5) = adc(t4, c, 0);
        let q = x0.wrapping_mul(n0);
        let (_, c) = mac(x0, q, m[0], 0);
        let (y0, c) = mac(x1, q, m[1], c);
        let (y1, c) = mac(x2, q, m[2], c);
        let (y2, c) = mac(x3, q, m[3], c);
        let (y3, c) = adc(x4, c, 0);
        t = [y0, y1, y2, y3];
        t4 = x5 + c;
    }
    reduce_once_mod(t, t4, m)
}

fn be_to_limbs(b: &[u8; 32]) -> [u64; 4] {
    let mut l = [0u64; 4];
    for (i, chunk) in b.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        l[3 - i] = u64::from_be_bytes(w);
    }
    l
}

#[cfg(test)]
fn limbs_to_be(l: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, chunk) in out.chunks_exact_mut(8).enumerate() {
        chunk.copy_from_slice(&l[3 - i].to_be_bytes());
    }
    out
}

impl Fe {
    const ZERO: Fe = Fe([0; 4]);

    #[inline(always)]
    fn reduce_once(v: [u64; 4], hi: u64) -> Fe {
        Fe(reduce_once_mod(v, hi, &P))
    }

    #[inline(always)]
    fn add(&self, o: &Fe) -> Fe {
        let (a0, c) = adc(self.0[0], o.0[0], 0);
        let (a1, c) = adc(self.0[1], o.0[1], c);
        let (a2, c) = adc(self.0[2], o.0[2], c);
        let (a3, c) = adc(self.0[3], o.0[3], c);
        Fe::reduce_once([a0, a1, a2, a3], c)
    }

    #[inline(always)]
    fn sub(&self, o: &Fe) -> Fe {
        let (a0, b) = sbb(self.0[0], o.0[0], 0);
        let (a1, b) = sbb(self.0[1], o.0[1], b);
        let (a2, b) = sbb(self.0[2], o.0[2], b);
        let (a3, b) = sbb(self.0[3], o.0[3], b);
        let m = 0u64.wrapping_sub(b);
        let (r0, c) = adc(a0, P[0] & m, 0);
        let (r1, c) = adc(a1, P[1] & m, c);
        let (r2, c) = adc(a2, P[2] & m, c);
        let (r3, _) = adc(a3, P[3] & m, c);
        Fe([r0, r1, r2, r3])
    }

    #[inline(always)]
    fn double(&self) -> Fe {
        self.add(self)
    }

    fn neg(&self) -> Fe {
        Fe::ZERO.sub(self)
    }

    /// Montgomery product a·b·2^-256 mod p (-p^-1 mod 2^64 = 1 for this prime).
    #[inline(always)]
    fn mul(&self, o: &Fe) -> Fe {
        Fe(mont_mul(&self.0, &o.0, &P, 1))
    }

    /// Squaring: the six cross products are computed once and doubled (10 multiplications instead of 16),
    /// then the 512-bit result is reduced word by word (Montgomery, -p^-1 mod 2^64 = 1).
    #[inline(always)]
    fn square(&self) -> Fe {
        let a = &self.0;
        // cross products a_i·a_j, i < j
        let (t1, c) = mac(0, a[0], a[1], 0);
        let (t2, c) = mac(0, a[0], a[2], c);
        let (t3, t4) = mac(0, a[0], a[3], c);
        let (t3, c) = mac(t3, a[1], a[2], 0);
        let (t4, t5) = mac(t4, a[1], a[3], c);
        let (t5, t6) = mac(t5, a[2], a[3], 0);
        // double them
        let t7 = t6 >> 63;
        let t6 = (t6 << 1) | (t5 >> 63);
        let t5 = (t5 << 1) | (t4 >> 63);
        let t4 = (t4 << 1) | (t3 >> 63);
        let t3 = (t3 << 1) | (t2 >> 63);
        let t2 = (t2 << 1) | (t1 >> 63);
        let t1 = t1 << 1;
        // add the squares a_i²
        let (t0, c) = mac(0, a[0], a[0], 0);
        let (t1, c) = adc(t1, 0, c);
        let (t2, c) = mac(t2, a[1], a[1], c);
        let (t3, c) = adc(t3, 0, c);
        let (t4, c) = mac(t4, a[2], a[2], c);
        let (t5, c) = adc(t5, 0, c);
        let (t6, c) = mac(t6, a[3], a[3], c);
        let (t7, _) = adc(t7, 0, c);
        Fe::mont_reduce([t0, t1, t2, t3, t4, t5, t6, t7])
    }

    /// Montgomery reduction of a 512-bit value below p·2^256: t·2^-256 mod p.
    #[inline(always)]
    fn mont_reduce(t: [u64; 8]) -> Fe {
        let [r0, mut r1, mut r2, mut r3, mut r4, mut r5, mut r6, mut r7] = t;
        let mut hi = 0u64;
        // round 1: m = r0
        let m = r0;
        let (_, c) = mac(r0, m, P[0], 0);
        let (v, c) = mac(r1, m, P[1], c);
        r1 = v;
        let (v, c) = mac(r2, m, P[2], c);
        r2 = v;
        let (v, c) = mac(r3, m, P[3], c);
        r3 = v;
        let (v, c2) = adc(r4, c, 0);
        r4 = v;
        let (v, c2) = adc(r5, 0, c2);
        r5 = v;
        let (v, c2) = adc(r6, 0, c2);
        r6 = v;
        let (v, c2) = adc(r7, 0, c2);
        r7 = v;
        hi += c2;
        // round 2: m = r1
        let m = r1;
        let (_, c) = mac(r1, m, P[0], 0);
        let (v, c) = mac(r2, m, P[1], c);
        r2 = v;
        let (v, c) = mac(r3, m, P[2], c);
        r3 = v;
        let (v, c) = mac(r4, m, P[3], c);
        r4 = v;
        let (v, c2) = adc(r5, c, 0);
        r5 = v;
        let (v, c2) = adc(r6, 0, c2);
        r6 = v;
        let (v, c2) = adc(r7, 0, c2);
        r7 = v;
        hi += c2;
        // round 3: m = r2
        let m = r2;
        let (_, c) = mac(r2, m, P[0], 0);
        let (v, c) = mac(r3, m, P[1], c);
        r3 = v;
        let (v, c) = mac(r4, m, P[2], c);
        r4 = v;
        let (v, c) = mac(r5, m, P[3], c);
        r5 = v;
        let (v, c2) = adc(r6, c, 0);
        r6 = v;
        let (v, c2) = adc(r7, 0, c2);
        r7 = v;
        hi += c2;
        // round 4: m = r3
        let m = r3;
        let (_, c) = mac(r3, m, P[0], 0);
        let (v, c) = mac(r4, m, P[1], c);
        r4 = v;
        let (v, c) = mac(r5, m, P[2], c);
        r5 = v;
        let (v, c) = mac(r6, m, P[3], c);
        r6 = v;
        let (v, c2) = adc(r7, c, 0);
        r7 = v;
        hi += c2;
        Fe::reduce_once([r4, r5, r6, r7], hi)
    }

    fn from_be_bytes(b: &[u8; 32]) -> Fe {
        // inputs here are coordinates already validated (< p) by the sm2 crate, or constants
        Fe(be_to_limbs(b)).mul(&Fe(R2))
    }

    #[cfg(test)]
    fn to_be_bytes(self) -> [u8; 32] {
        limbs_to_be(&self.mul(&Fe([1, 0, 0, 0])).0)
    }

    /// Limb-wise, so that it compiles to a few ORs instead of a `memcmp` call.
    fn is_zero(&self) -> bool {
        (self.0[0] | self.0[1] | self.0[2] | self.0[3]) == 0
    }

    fn eq(&self, o: &Fe) -> bool {
        ((self.0[0] ^ o.0[0]) | (self.0[1] ^ o.0[1]) | (self.0[2] ^ o.0[2]) | (self.0[3] ^ o.0[3]))
            == 0
    }

    /// a^(p-2) with a fixed 4-bit window over the public exponent (constant time in a).
    fn invert(&self) -> Fe {
        let mut pow = [ONE; 16];
        for i in 1..16 {
            pow[i] = pow[i - 1].mul(self);
        }
        // p - 2, most significant nibble first
        let e: [u64; 4] = [P[0] - 2, P[1], P[2], P[3]];
        let mut acc = ONE;
        for limb in e.iter().rev() {
            for shift in (0..16).rev() {
                acc = acc.square().square().square().square();
                acc = acc.mul(&pow[((limb >> (shift * 4)) & 0xF) as usize]);
            }
        }
        acc
    }
}

/// Affine point (never the identity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Affine {
    x: Fe,
    y: Fe,
}

/// Jacobian point (X/Z^2, Y/Z^3); Z = 0 is the identity.
#[derive(Clone, Copy, Debug)]
struct Jac {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Jac {
    const IDENTITY: Jac = Jac {
        x: ONE,
        y: ONE,
        z: Fe::ZERO,
    };

    fn from_affine(a: &Affine) -> Jac {
        Jac {
            x: a.x,
            y: a.y,
            z: ONE,
        }
    }

    fn is_identity(&self) -> bool {
        self.z.is_zero()
    }

    /// dbl-2001-b for a = -3: 3M + 5S. The identity doubles to itself (Z stays 0).
    #[inline(always)]
    fn double(&self) -> Jac {
        let delta = self.z.square();
        let gamma = self.y.square();
        let beta = self.x.mul(&gamma);
        let t = self.x.sub(&delta).mul(&self.x.add(&delta));
        let alpha = t.double().add(&t);
        let beta4 = beta.double().double();
        let x3 = alpha.square().sub(&beta4.double());
        let z3 = self.y.add(&self.z).square().sub(&gamma).sub(&delta);
        let g2 = gamma.square();
        let y3 = alpha
            .mul(&beta4.sub(&x3))
            .sub(&g2.double().double().double());
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// madd-2007-bl: self + affine, 7M + 4S. Wrong for the identity or equal/opposite points; callers
    /// rule those out or select the result away.
    #[inline(always)]
    fn add_affine_unchecked(&self, b: &Affine) -> (Jac, Fe, Fe) {
        let z1z1 = self.z.square();
        let u2 = b.x.mul(&z1z1);
        let s2 = b.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        let hh = h.square();
        let i = hh.double().double();
        let j = h.mul(&i);
        let r = s2.sub(&self.y).double();
        let v = self.x.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&self.y.mul(&j).double());
        let z3 = self.z.add(&h).square().sub(&z1z1).sub(&hh);
        (
            Jac {
                x: x3,
                y: y3,
                z: z3,
            },
            h,
            r,
        )
    }

    /// self + affine, variable time, all cases.
    fn add_affine(&self, b: &Affine) -> Jac {
        if self.is_identity() {
            return Jac::from_affine(b);
        }
        let (sum, h, r) = self.add_affine_unchecked(b);
        if h.is_zero() {
            return if r.is_zero() {
                Jac::from_affine(b).double()
            } else {
                Jac::IDENTITY
            };
        }
        sum
    }

    /// add-2007-bl, variable time, all cases.
    fn add(&self, o: &Jac) -> Jac {
        if self.is_identity() {
            return *o;
        }
        if o.is_identity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = o.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = o.x.mul(&z1z1);
        let s1 = self.y.mul(&o.z).mul(&z2z2);
        let s2 = o.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let r = s2.sub(&s1).double();
        if h.is_zero() {
            return if r.is_zero() {
                self.double()
            } else {
                Jac::IDENTITY
            };
        }
        let i = h.double().square();
        let j = h.mul(&i);
        let v = u1.mul(&i);
        let x3 = r.square().sub(&j).sub(&v.double());
        let y3 = r.mul(&v.sub(&x3)).sub(&s1.mul(&j).double());
        let z3 = self.z.add(&o.z).square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jac {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// Affine x coordinate as big-endian bytes, or `None` for the identity.
    #[cfg(test)]
    fn x_bytes(&self) -> Option<[u8; 32]> {
        if self.is_identity() {
            return None;
        }
        let zi = self.z.invert();
        Some(self.x.mul(&zi.square()).to_be_bytes())
    }
}

const G_X: [u8; 32] = hex32("32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
const G_Y: [u8; 32] = hex32("BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");
/// Curve coefficients a and b, big-endian, for the Z value.
pub(crate) const A_BYTES: [u8; 32] =
    hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
pub(crate) const B_BYTES: [u8; 32] =
    hex32("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
pub(crate) const GX_BYTES: [u8; 32] = G_X;
pub(crate) const GY_BYTES: [u8; 32] = G_Y;

const fn hex32(s: &str) -> [u8; 32] {
    let b = s.as_bytes();
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nib(b[2 * i]) << 4) | nib(b[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nib(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// `rows` windows of `per_row` points: row j holds (i+1)·2^(bits·j)·G for i < per_row, in affine form
/// (one field inversion for all of them, by Montgomery's trick).
fn comb_rows(rows: usize, per_row: usize, bits: u32) -> Vec<Affine> {
    let g = Affine {
        x: Fe::from_be_bytes(&G_X),
        y: Fe::from_be_bytes(&G_Y),
    };
    let mut jac = Vec::with_capacity(rows * per_row);
    let mut base = Jac::from_affine(&g);
    for _ in 0..rows {
        let mut m = base;
        for _ in 0..per_row {
            jac.push(m);
            m = m.add(&base);
        }
        for _ in 0..bits {
            base = base.double();
        }
    }
    normalize(&jac)
}

/// Comb table for verification (public scalars): `(i+1)·256^j·G`, 32 windows × 255 points (522 KB), so that
/// s·G costs at most 32 additions.
fn table8() -> &'static [Affine] {
    static TABLE: OnceLock<Vec<Affine>> = OnceLock::new();
    TABLE.get_or_init(|| comb_rows(32, 255, 8))
}

/// k·G for a public k (variable time), one byte per window.
fn mul_g_vartime(k: &[u8; 32]) -> Jac {
    let t = table8();
    let mut acc = Jac::IDENTITY;
    for (j, &d) in k.iter().rev().enumerate() {
        if d != 0 {
            acc = acc.add_affine(&t[j * 255 + usize::from(d) - 1]);
        }
    }
    acc
}

/// Width-5 NAF digits of a big-endian scalar, least significant first.
fn wnaf5(k: &[u8; 32]) -> [i8; 257] {
    let mut limbs = [0u64; 5];
    for (i, chunk) in k.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        limbs[3 - i] = u64::from_be_bytes(w);
    }
    let mut out = [0i8; 257];
    let mut i = 0;
    while limbs != [0; 5] && i < 257 {
        if limbs[0] & 1 == 1 {
            let mut d = (limbs[0] & 31) as i64;
            if d > 16 {
                d -= 32;
            }
            out[i] = d as i8;
            // limbs -= d
            if d > 0 {
                let mut borrow = d as u64;
                for l in limbs.iter_mut() {
                    let (v, b) = l.overflowing_sub(borrow);
                    *l = v;
                    borrow = u64::from(b);
                }
            } else {
                let mut carry = (-d) as u64;
                for l in limbs.iter_mut() {
                    let (v, c) = l.overflowing_add(carry);
                    *l = v;
                    carry = u64::from(c);
                }
            }
        }
        // limbs >>= 1
        for n in 0..5 {
            let hi = if n < 4 { limbs[n + 1] << 63 } else { 0 };
            limbs[n] = (limbs[n] >> 1) | hi;
        }
        i += 1;
    }
    out
}

/// Jacobian points to affine with one inversion (Montgomery's trick); none may be the identity.
fn normalize(points: &[Jac]) -> Vec<Affine> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = ONE;
    for p in points {
        prefix.push(acc);
        acc = acc.mul(&p.z);
    }
    let mut inv = acc.invert();
    let mut out = vec![Affine { x: ONE, y: ONE }; points.len()];
    for (k, p) in points.iter().enumerate().rev() {
        let zi = inv.mul(&prefix[k]);
        inv = inv.mul(&p.z);
        let zi2 = zi.square();
        out[k] = Affine {
            x: p.x.mul(&zi2),
            y: p.y.mul(&zi2.mul(&zi)),
        };
    }
    out
}

/// s·G + t·Q for public s, t and Q (verification).
fn lincomb_vartime(s: &[u8; 32], t: &[u8; 32], q: &Affine) -> Jac {
    let qj = Jac::from_affine(q);
    let q2 = qj.double();
    let mut odd = [qj; 8]; // Q, 3Q, …, 15Q
    for i in 1..8 {
        odd[i] = odd[i - 1].add(&q2);
    }
    // Q has prime order n, so its small odd multiples are never the identity: affine form lets the main loop
    // use the cheaper mixed addition.
    let odd = normalize(&odd);
    let digits = wnaf5(t);
    let top = digits.iter().rposition(|&d| d != 0).unwrap_or(0);
    let mut acc = Jac::IDENTITY;
    for i in (0..=top).rev() {
        acc = acc.double();
        let d = digits[i];
        if d > 0 {
            acc = acc.add_affine(&odd[(d as usize) / 2]);
        } else if d < 0 {
            let p = &odd[((-d) as usize) / 2];
            acc = acc.add_affine(&Affine {
                x: p.x,
                y: p.y.neg(),
            });
        }
    }
    acc.add(&mul_g_vartime(s))
}

/// Uncompressed SEC1 coordinates (the `sm2` crate validates the point before this is called).
fn affine_from_sec1(point: &[u8]) -> Option<Affine> {
    let (x, y) = match point {
        [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
        _ => return None,
    };
    Some(Affine {
        x: Fe::from_be_bytes(x.try_into().ok()?),
        y: Fe::from_be_bytes(y.try_into().ok()?),
    })
}

fn to_scalar_bytes(s: &Scalar) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&s.to_repr());
    out
}

/// SM2 verification of prehash `e` (GB/T 32918.2 B1-B7) against an uncompressed, validated public key.
pub(crate) fn verify_prehash(point: &[u8], e: &[u8; 32], sig: &sm2::dsa::Signature) -> bool {
    let Some(q) = affine_from_sec1(point) else {
        return false;
    };
    let (r, s) = sig.split_scalars();
    let t = *r + *s;
    if bool::from(t.is_zero()) {
        return false;
    }
    let sum = lincomb_vartime(&to_scalar_bytes(&s), &to_scalar_bytes(&t), &q);
    if sum.is_identity() {
        return false;
    }
    // Accept when (e + x1) mod n = r, i.e. x1 ≡ r - e (mod n). x1 < p < 2n, so x1 is c = (r - e) mod n or c + n;
    // compare X = c·Z² in the field instead of inverting Z.
    let e = <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(*e));
    let c: [u8; 32] = to_scalar_bytes(&(*r - e));
    let z2 = sum.z.square();
    if Fe::from_be_bytes(&c).mul(&z2).eq(&sum.x) {
        return true;
    }
    match add_n_below_p(&c) {
        Some(c2) => Fe::from_be_bytes(&c2).mul(&z2).eq(&sum.x),
        None => false,
    }
}

/// c + n when that is still below p (then it is another x coordinate that reduces to c mod n).
fn add_n_below_p(c: &[u8; 32]) -> Option<[u8; 32]> {
    const N: [u8; 32] = hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
    const PB: [u8; 32] = hex32("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF");
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let v = u16::from(c[i]) + u16::from(N[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    (carry == 0 && out < PB).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sm2::elliptic_curve::sec1::ToSec1Point;
    use sm2::{AffinePoint, ProjectivePoint};

    fn scalar(seed: u64) -> Scalar {
        let mut b = [0u8; 32];
        let h = crate::sm::sm3(&seed.to_le_bytes());
        b.copy_from_slice(&h);
        <Scalar as Reduce<FieldBytes>>::reduce(&FieldBytes::from(b))
    }

    fn x_of(p: &ProjectivePoint) -> [u8; 32] {
        let a: AffinePoint = p.to_affine();
        let enc = a.to_sec1_point(false);
        let mut x = [0u8; 32];
        x.copy_from_slice(&enc.as_bytes()[1..33]);
        x
    }

    #[test]
    fn squaring_matches_multiplication() {
        let mut x = Fe::from_be_bytes(&G_X);
        for i in 0..20_000u32 {
            assert_eq!(x.square(), x.mul(&x), "{i}");
            let y = Fe::from_be_bytes(&crate::sm::sm3(&i.to_le_bytes()));
            x = x.mul(&y).add(&Fe([u64::MAX, 0, 0, 0]));
        }
        // the largest element, p - 1
        let top = Fe(P).sub(&Fe([1, 0, 0, 0]));
        let top = Fe(top.0);
        assert_eq!(top.square(), top.mul(&top));
    }

    #[test]
    fn field_basics() {
        let a = Fe::from_be_bytes(&G_X);
        assert_eq!(a.to_be_bytes(), G_X);
        assert_eq!(a.mul(&a.invert()), ONE);
        assert_eq!(a.sub(&a), Fe::ZERO);
        assert_eq!(a.add(&a.neg()), Fe::ZERO);
        // G is on the curve: y² = x³ - 3x + b
        let (x, y) = (Fe::from_be_bytes(&G_X), Fe::from_be_bytes(&G_Y));
        let b = Fe::from_be_bytes(&B_BYTES);
        let rhs = x.square().mul(&x).sub(&x.double().add(&x)).add(&b);
        assert_eq!(y.square(), rhs);
    }

    #[test]
    fn base_point_multiples_match_the_sm2_crate() {
        for seed in 0..64u64 {
            let k = if seed == 0 {
                Scalar::ONE
            } else if seed == 1 {
                -Scalar::ONE
            } else {
                scalar(seed)
            };
            let want = x_of(&(ProjectivePoint::GENERATOR * k));
            let kb = to_scalar_bytes(&k);
            assert_eq!(mul_g_vartime(&kb).x_bytes(), Some(want), "vartime {seed}");
        }
        assert_eq!(mul_g_vartime(&[0; 32]).x_bytes(), None);
    }

    #[test]
    fn lincomb_matches_the_sm2_crate() {
        for seed in 0..32u64 {
            let (s, t, d) = (scalar(seed), scalar(seed + 1000), scalar(seed + 2000));
            let q = (ProjectivePoint::GENERATOR * d).to_affine();
            let enc = q.to_sec1_point(false);
            let qa = affine_from_sec1(enc.as_bytes()).unwrap();
            let want = x_of(&(ProjectivePoint::GENERATOR * s + ProjectivePoint::from(q) * t));
            assert_eq!(
                lincomb_vartime(&to_scalar_bytes(&s), &to_scalar_bytes(&t), &qa).x_bytes(),
                Some(want),
                "{seed}"
            );
        }
    }

    const N_HEX: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123";
    const P_HEX: &str = "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF";

    fn be(hex: &str) -> [u8; 32] {
        hex32(hex)
    }

    /// a - b for 32-byte big-endian numbers (a ≥ b).
    fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut v = i16::from(a[i]) - i16::from(b[i]) - borrow;
            borrow = i16::from(v < 0);
            if v < 0 {
                v += 256;
            }
            out[i] = v as u8;
        }
        out
    }

    fn small(v: u8) -> [u8; 32] {
        let mut b = [0u8; 32];
        b[31] = v;
        b
    }

    /// Our verification and the `sm2` crate's give the same answer.
    fn agree(vk: &sm2::dsa::VerifyingKey, e: &[u8; 32], sig: &sm2::dsa::Signature) -> bool {
        use sm2::dsa::signature::hazmat::PrehashVerifier;
        let ours = verify_prehash(&vk.to_sec1_bytes(), e, sig);
        let theirs = vk.verify_prehash(e, sig).is_ok();
        assert_eq!(ours, theirs, "fast.rs and the sm2 crate disagree");
        ours
    }

    fn key(d: &[u8; 32]) -> Option<sm2::dsa::SigningKey> {
        sm2::dsa::SigningKey::from_slice(crate::sm::DIST_ID, d).ok()
    }

    #[test]
    fn edge_scalars() {
        use sm2::dsa::signature::hazmat::PrehashSigner;
        let n = be(N_HEX);
        let p = be(P_HEX);
        // Private keys 0 and n are not keys; 1, 2 and n-2 are, and sign and verify alike in both.
        assert!(key(&[0; 32]).is_none());
        assert!(key(&n).is_none());
        let e: [u8; 32] = crate::sm::sm3(b"edge");
        for d in [small(1), small(2), sub_be(&n, &small(2))] {
            let sk = key(&d).unwrap();
            let sig: sm2::dsa::Signature = sk.sign_prehash(&e).unwrap();
            assert!(agree(sk.verifying_key(), &e, &sig));
            let mut bad = e;
            bad[0] ^= 0x80;
            assert!(!agree(sk.verifying_key(), &bad, &sig));
            // r and s at the ends of [1, n-1]: valid encodings, never valid signatures here.
            let n1 = sub_be(&n, &small(1));
            for (r, s) in [
                (small(1), small(1)),
                (n1, n1),
                (small(1), n1),
                (n1, small(1)),
            ] {
                let edge = sm2::dsa::Signature::from_scalars(r, s).unwrap();
                assert!(!agree(sk.verifying_key(), &e, &edge));
            }
            // r or s of 0 or n is not a signature at all.
            for (r, s) in [
                ([0; 32], small(1)),
                (small(1), [0; 32]),
                (n, small(1)),
                (small(1), n),
            ] {
                assert!(sm2::dsa::Signature::from_scalars(r, s).is_err());
            }
        }
        // d = n-1 makes 1 + d = 0 mod n: the crate refuses to sign rather than divide by zero.
        if let Some(sk) = key(&sub_be(&n, &small(1))) {
            assert!(sk.sign_prehash(&e).is_err());
        }
        // x coordinates of p or above are not field elements: such public keys are refused before fast.rs.
        let mut point = vec![0x04];
        point.extend_from_slice(&p);
        point.extend_from_slice(&G_Y);
        assert!(crate::sm::verifying_key(&point, crate::sm::DIST_ID).is_err());
        point[1..33].copy_from_slice(&[0xFF; 32]);
        assert!(crate::sm::verifying_key(&point, crate::sm::DIST_ID).is_err());
        // The x1 ≥ n branch: c + n is another candidate only while it stays below p.
        assert_eq!(add_n_below_p(&[0; 32]), Some(n));
        let gap = sub_be(&p, &n);
        assert_eq!(
            add_n_below_p(&sub_be(&gap, &small(1))),
            Some(sub_be(&p, &small(1)))
        );
        assert_eq!(add_n_below_p(&gap), None);
        assert_eq!(add_n_below_p(&sub_be(&n, &small(1))), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Random keys and messages: signatures the `sm2` crate makes verify in both, a changed digest or a
        /// changed s fails in both, and random (r, s) pairs get the same answer from both.
        #[test]
        fn verification_agrees_with_the_sm2_crate(d in proptest::array::uniform32(proptest::prelude::any::<u8>()),
                                                  e in proptest::array::uniform32(proptest::prelude::any::<u8>()),
                                                  r in proptest::array::uniform32(proptest::prelude::any::<u8>()),
                                                  s in proptest::array::uniform32(proptest::prelude::any::<u8>()),
                                                  flip in 0usize..256) {
            use sm2::dsa::signature::hazmat::PrehashSigner;
            let Some(sk) = key(&d) else { return Ok(()) };
            let Ok(sig) = PrehashSigner::<sm2::dsa::Signature>::sign_prehash(&sk, &e) else { return Ok(()) };
            proptest::prop_assert!(agree(sk.verifying_key(), &e, &sig));
            let mut bad = e;
            bad[flip / 8] ^= 1 << (flip % 8);
            proptest::prop_assert!(!agree(sk.verifying_key(), &bad, &sig));
            let r0: [u8; 32] = sig.r_bytes().into();
            let mut s1: [u8; 32] = sig.s_bytes().into();
            s1[flip / 8] ^= 1 << (flip % 8);
            if let Ok(changed) = sm2::dsa::Signature::from_scalars(r0, s1) {
                proptest::prop_assert!(!agree(sk.verifying_key(), &e, &changed));
            }
            if let Ok(random) = sm2::dsa::Signature::from_scalars(r, s) {
                agree(sk.verifying_key(), &e, &random);
            }
        }
    }

    #[test]
    fn signing_is_the_crates_and_deterministic() {
        // RFC 6979: the same key and message give the same signature; it verifies in fast.rs and in the crate.
        let sk = key(&crate::sm::sm3(b"maker")).unwrap();
        let a = crate::sm::sign_der(&sk, b"seal info").unwrap();
        let b = crate::sm::sign_der(&sk, b"seal info").unwrap();
        assert_eq!(a, b);
        let (sig, _) = crate::sm::decode_signature(&a).unwrap();
        assert!(crate::sm::verify(sk.verifying_key(), b"seal info", &sig));
        use sm2::dsa::signature::Verifier;
        assert!(sk.verifying_key().verify(b"seal info", &sig).is_ok());
        assert!(!crate::sm::verify(sk.verifying_key(), b"seal inf0", &sig));
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `cargo test --release -p sealdesk-ses fast::timing -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn field_and_point_timing() {
        let mut a = Fe::from_be_bytes(&G_X);
        let b = Fe::from_be_bytes(&G_Y);
        let n = 1_000_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            a = a.mul(&b);
        }
        println!("mul {:?} {}", t.elapsed() / n, a.0[0] & 1);
        let t = std::time::Instant::now();
        for _ in 0..n {
            a = a.square();
        }
        println!("sqr {:?}", t.elapsed() / n);
        let t = std::time::Instant::now();
        for _ in 0..n {
            a = a.add(&b);
        }
        println!("add {:?}", t.elapsed() / n);
        let mut p = Jac::from_affine(&Affine {
            x: Fe::from_be_bytes(&G_X),
            y: Fe::from_be_bytes(&G_Y),
        });
        let t = std::time::Instant::now();
        for _ in 0..100_000 {
            p = p.double();
        }
        println!("dbl {:?}", t.elapsed() / 100_000);
        let k = [0x5Au8; 32];
        let t = std::time::Instant::now();
        let _ = table8();
        println!("table8 init {:?}", t.elapsed());
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(mul_g_vartime(&k));
        }
        println!("mul_g_vartime {:?}", t.elapsed() / 1000);
        let q = Affine {
            x: Fe::from_be_bytes(&G_X),
            y: Fe::from_be_bytes(&G_Y),
        };
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(lincomb_vartime(&k, &k, &q));
        }
        println!("lincomb {:?}", t.elapsed() / 1000);
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(a.invert());
        }
        println!("invert {:?}", t.elapsed() / 1000);
    }
}
