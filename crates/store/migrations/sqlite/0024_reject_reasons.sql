-- Coded rejection reasons (issue 10): the catalogue reviewers pick from, each tied to the form field or upload it
-- concerns. Administrators edit the texts; the codes and fields are fixed here, since pages place each reason
-- beside its field.
CREATE TABLE reject_reasons (
    code TEXT PRIMARY KEY,
    field TEXT NOT NULL,
    text TEXT NOT NULL,
    position INTEGER NOT NULL
);
INSERT INTO reject_reasons (code, field, text, position) VALUES
    ('credit_code_mismatch', 'holder.credit_code', '证件识别企业证件号与填写的统一社会信用代码不符，请核对后修改', 1),
    ('enterprise_name_mismatch', 'holder.enterprise_name', '企业名称与营业执照不一致，请按营业执照填写', 2),
    ('applicant_mismatch', 'holder.applicant_name', '申请人姓名与身份证不一致', 3),
    ('id_number_mismatch', 'holder.id_number', '身份证号码与身份证扫描件不一致', 4),
    ('licence_unclear', 'uploads.licence', '营业执照扫描件不清晰或不完整，请重新上传', 5),
    ('id_unclear', 'uploads.id_front', '身份证扫描件不清晰或不完整，请重新上传正反面', 6),
    ('impression_unclear', 'uploads.impression_form', '印模采集表印章不清晰或未盖章，请重新盖章后扫描上传', 7),
    ('months_wrong', 'months', '印章授权期限与授权单位的要求不符', 8);
