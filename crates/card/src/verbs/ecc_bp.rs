//! Brainpool P-192r1 and P-512r1 (RFC 5639) for
//! [`super::ecc_rc`]: each curve is its published constants (field modulus, order, a, b and
//! the generator, as RFC 5639 §3 lists them) placed on RustCrypto's maintained generic
//! implementations, the way RustCrypto's own `bp256`/`bp384` crates define theirs:
//! `primefield`'s Montgomery field arithmetic (its portable `crypto-bigint` backend) for the
//! base and scalar fields, `primeorder`'s short-Weierstrass point arithmetic (complete
//! formulas for a generic a), `elliptic-curve` 0.14's keys and ECDH, and `ecdsa` 0.17's
//! hazmat signing and verification. No field or point arithmetic is written here.
//!
//! P-160r1, P-224r1 and P-320r1 are not here: P-160's and P-224's 20- and 28-byte fields are
//! not a whole number of 64-bit limbs, and `primefield`'s scalar reduction from bytes
//! (`monty_field_reduce!`) needs the byte string to be the integer type's width; P-320's
//! 5-limb integer (`U320`) has no byte-array encoding in `crypto-bigint` 0.7, which
//! `primefield`'s field elements need. Making them work would mean writing that glue (and
//! its arithmetic) by hand, which this project does not do. They stay 8/874.

#![allow(missing_docs)]

macro_rules! brainpool {
    (
        $m:ident, $curve:ident, $uint:ident, $bytes:ident, gens: ($gp:expr, $gn:expr),
        p: $p:expr, n: $n:expr, a: $a:expr, b: $b:expr, gx: $gx:expr, gy: $gy:expr
    ) => {
        pub(crate) mod $m {
            use elliptic_curve_14::bigint::{Odd, $uint};
            use elliptic_curve_14::consts::$bytes;
            use elliptic_curve_14::scalar::{FromUintUnchecked, IsHigh};
            use elliptic_curve_14::subtle::{Choice, ConstantTimeGreater};
            use elliptic_curve_14::{
                CurveArithmetic, PrimeCurveArithmetic, hazmat::FieldArithmetic,
            };
            use primeorder::{PrimeCurveParams, mul_backend, point_arithmetic};

            const ORDER_HEX: &str = $n;
            const ORDER: Odd<$uint> = Odd::<$uint>::from_be_hex(ORDER_HEX);

            /// The curve.
            #[derive(Copy, Clone, Debug, Default, Eq, PartialEq, PartialOrd, Ord)]
            pub struct $curve;

            impl elliptic_curve_14::Curve for $curve {
                type FieldBytesSize = $bytes;
                type Uint = $uint;
                const ORDER: Odd<$uint> = ORDER;
            }

            impl elliptic_curve_14::PrimeCurve for $curve {}

            impl elliptic_curve_14::point::PointCompression for $curve {
                const COMPRESS_POINTS: bool = false;
            }

            #[allow(deprecated)] // primefield's macros call crypto-bigint's `bits`
            mod field {
                #[allow(unused_imports)]
                use super::{$curve, ORDER, ORDER_HEX, $uint, FromUintUnchecked, IsHigh, Choice, ConstantTimeGreater};
                #[allow(unused_imports)]
                use elliptic_curve_14::{ff::PrimeField, subtle::{ConstantTimeEq, CtOption}};
                primefield::monty_field_params! {
                    name: FieldParams,
                    modulus: $p,
                    uint: $uint,
                    byte_order: primefield::ByteOrder::BigEndian,
                    multiplicative_generator: $gp,
                    doc: "Montgomery parameters of the field"
                }
                primefield::monty_field_element! {
                    name: FieldElement,
                    params: FieldParams,
                    uint: $uint,
                    doc: "An element of the field"
                }
                primefield::monty_field_arithmetic! {
                    name: FieldElement,
                    params: FieldParams,
                    uint: $uint
                }
                impl elliptic_curve_14::ops::BatchInvert for FieldElement {}
            }
            pub(crate) use field::FieldElement;

            #[allow(deprecated)] // primefield's macros call crypto-bigint's `bits`
            mod scalar {
                #[allow(unused_imports)]
                use super::{$curve, ORDER, ORDER_HEX, $uint, FromUintUnchecked, IsHigh, Choice, ConstantTimeGreater};
                #[allow(unused_imports)]
                use elliptic_curve_14::{ff::PrimeField, subtle::{ConstantTimeEq, CtOption}};
                primefield::monty_field_params! {
                    name: ScalarParams,
                    modulus: ORDER_HEX,
                    uint: $uint,
                    byte_order: primefield::ByteOrder::BigEndian,
                    multiplicative_generator: $gn,
                    doc: "Montgomery parameters of the scalar field"
                }
                primefield::monty_field_element! {
                    name: Scalar,
                    params: ScalarParams,
                    uint: $uint,
                    doc: "An element of the scalar field"
                }
                primefield::monty_field_arithmetic! {
                    name: Scalar,
                    params: ScalarParams,
                    uint: $uint
                }
                primefield::monty_field_reduce! {
                    name: Scalar,
                    params: ScalarParams,
                    uint: $uint,
                }
                elliptic_curve_14::scalar_impls!($curve, Scalar);
                primeorder::wnaf::impl_wnaf_size_for_scalar!(Scalar);

                impl AsRef<Scalar> for Scalar {
                    fn as_ref(&self) -> &Scalar {
                        self
                    }
                }

                impl FromUintUnchecked for Scalar {
                    type Uint = $uint;
                    fn from_uint_unchecked(uint: Self::Uint) -> Self {
                        Self::from_uint_unchecked(uint)
                    }
                }

                impl IsHigh for Scalar {
                    fn is_high(&self) -> Choice {
                        let half: $uint = ORDER.as_ref().shr_vartime(1);
                        self.to_canonical().ct_gt(&half)
                    }
                }
            }
            pub(crate) use scalar::Scalar;

            impl CurveArithmetic for $curve {
                type AffinePoint = primeorder::AffinePoint<$curve>;
                type ProjectivePoint = primeorder::ProjectivePoint<$curve>;
                type Scalar = Scalar;
            }

            impl FieldArithmetic for $curve {
                type FieldElement = FieldElement;
            }

            impl PrimeCurveArithmetic for $curve {
                type CurveGroup = primeorder::ProjectivePoint<$curve>;
            }

            impl PrimeCurveParams for $curve {
                type PointArithmetic = point_arithmetic::EquationAIsGeneric;
                type Backend = mul_backend::VariableOnly;
                const EQUATION_A: FieldElement = FieldElement::from_hex_vartime($a);
                const EQUATION_B: FieldElement = FieldElement::from_hex_vartime($b);
                const GENERATOR: (FieldElement, FieldElement) = (
                    FieldElement::from_hex_vartime($gx),
                    FieldElement::from_hex_vartime($gy),
                );
            }

            impl ecdsa_17::EcdsaCurve for $curve {
                const NORMALIZE_S: bool = false;
            }
        }
    };
}

// The generators handed to primefield are the smallest quadratic non-residues of each
// modulus (what its square roots need; checked by crypto-bigint when the constants are
// built). Hex values are RFC 5639's, as OpenSSL's brainpoolPxxxr1 parameters print them.
brainpool!(bp192, BrainpoolP192r1, U192, U24, gens: (3, 7),
    p: "c302f41d932a36cda7a3463093d18db78fce476de1a86297",
    n: "c302f41d932a36cda7a3462f9e9e916b5be8f1029ac4acc1",
    a: "6a91174076b1e0e19c39c031fe8685c1cae040e5c69a28ef",
    b: "469a28ef7c28cca3dc721d044f4496bcca7ef4146fbf25c9",
    gx: "c0a0647eaab6a48753b033c56cb0f0900a2f5c4853375fd6",
    gy: "14b690866abd5bb88b5f4828c1490002e6773fa2fa299b8f"
);

brainpool!(bp512, BrainpoolP512r1, U512, U64, gens: (2, 7),
    p: "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3",
    n: "aadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069",
    a: "7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca",
    b: "3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723",
    gx: "81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822",
    gy: "7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892"
);
