-- Projects' settings (issue 10, item 1): the 授权单位's contact shown to applicants, the registered true size of
-- each seal kind (`kind:WxH` in mm, comma-separated, e.g. `official_seal:40x40`; a kind not listed has its usual
-- size), and the 授权转自动开关: when set (1), a submission whose 审核预检 all pass is approved by the platform.
ALTER TABLE projects ADD COLUMN contact TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN seal_sizes TEXT NOT NULL DEFAULT '';
ALTER TABLE projects ADD COLUMN auto_approve SMALLINT NOT NULL DEFAULT 0;
