//! GB/T 38540 / GM/T 0031 electronic seals and seal signatures: types, DER, SM2/SM3 make and verify. No I/O.
