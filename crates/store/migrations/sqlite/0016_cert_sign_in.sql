-- UKey sign-in (issue 12): the one-time challenges a key signs to sign in, and which applicant account a
-- certificate holder (统一社会信用代码 or 身份证号码) signs in to — the account that last bound a key of that
-- holder at 授权.
CREATE TABLE sign_in_challenges (
    nonce TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE cert_holders (
    holder TEXT PRIMARY KEY,
    applicant_id BIGINT NOT NULL REFERENCES applicants (id),
    linked_at TEXT NOT NULL
);
