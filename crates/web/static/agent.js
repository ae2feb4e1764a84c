// SealDesk's pages and the UKey agent (证书助手, sealdesk-agent on the applicant's computer).
//
// The page pairs with the agent (POST /v1/pair, a token for this origin only), lists the inserted keys
// (GET /v1/keys), checks the PIN (还可尝试 N 次), has the platform's challenge signed, writes the seals it
// downloaded from the platform and posts the key's signed read-back. The platform and the agent never talk to
// each other: everything goes through this page, and the PIN goes to the agent only.
//
// Four places use it, each a container with data attributes: #ukey (an order's 授权 and 写入), #ukey-login
// (证书登录), #ukey-check (环境检测) and #ukey-start (读取证书锁 where 续期 and 变更 begin). Text is set with textContent only.
"use strict";
(function () {
  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, text) {
    var e = document.createElement(tag);
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function fail(message, code, extra) {
    var e = new Error(message);
    e.code = code || "";
    e.extra = extra || {};
    return e;
  }

  // ---- the agent ----

  function Agent(base) {
    this.base = base.replace(/\/+$/, "");
    this.session = null;
  }

  Agent.prototype.call = async function (method, path, body) {
    var headers = {};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    if (this.session) {
      headers["X-Agent-Session"] = this.session;
    }
    var r;
    try {
      r = await fetch(this.base + path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store"
      });
    } catch (e) {
      throw fail("无法连接证书助手（" + this.base + "）：请确认已安装并启动 sealdesk-agent", "agent_down");
    }
    var j = {};
    try {
      j = await r.json();
    } catch (e) {
      j = {};
    }
    if (!r.ok) {
      throw fail(j.message || "证书助手返回错误 " + r.status, j.code || "agent_" + r.status, j);
    }
    return j;
  };

  Agent.prototype.pair = async function () {
    var j = await this.call("POST", "/v1/pair");
    this.session = j.session;
  };

  Agent.prototype.keys = async function () {
    var j = await this.call("GET", "/v1/keys");
    return j.keys || [];
  };

  Agent.prototype.key = function (serial, tail) {
    return "/v1/keys/" + encodeURIComponent(serial) + tail;
  };

  // ---- the platform (same origin, the session cookie and its CSRF token) ----

  async function platform(method, path, csrf, body) {
    var headers = { "X-CSRF-Token": csrf || "" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
    }
    var r = await fetch("/api/v1" + path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    });
    var j = {};
    try {
      j = await r.json();
    } catch (e) {
      j = {};
    }
    if (!r.ok) {
      var msg = j.message || "平台返回错误 " + r.status;
      if (j.fields && j.fields.length) {
        msg = j.fields.map(function (f) {
          return f.message;
        }).join("；");
      }
      throw fail(msg, j.code || "platform_" + r.status, j);
    }
    return j;
  }

  // ---- the UKey panel (the seed's: 密钥序列号, 锁类型, 证书, 有效期) ----

  function datePart(t) {
    return (t || "").slice(0, 10);
  }

  // An RFC 3339 time as the seed shows it: Beijing time, 2022-03-14 22:51:28.
  function beijing(t) {
    var d = new Date(t);
    if (isNaN(d.getTime())) {
      return t || "";
    }
    return new Date(d.getTime() + 8 * 3600 * 1000).toISOString().slice(0, 19).replace("T", " ");
  }

  // Fills a <dl> with (label, value) pairs.
  function fillInfo(dl, rows) {
    while (dl.firstChild) {
      dl.removeChild(dl.firstChild);
    }
    rows.forEach(function (r) {
      dl.appendChild(el("dt", r[0] + "："));
      dl.appendChild(el("dd", r[1]));
    });
    dl.hidden = rows.length === 0;
  }

  // The seed's UKEY信息 of one key: 密钥序列号 and its certificate's serial, validity, subject and issuer.
  function keyInfo(k) {
    if (!k || !k.cert) {
      return [];
    }
    return [
      ["密钥序列号", k.serial],
      ["证书序列号", k.cert.serial],
      ["证书有效开始时间", beijing(k.cert.not_before)],
      ["证书有效截止时间", beijing(k.cert.not_after)],
      ["证书主题", k.cert.subject],
      ["颁发者", k.cert.issuer]
    ];
  }

  // Fills `table` with one row per key; returns the keys that hold a readable certificate.
  function showKeys(table, keys) {
    var body = table.tBodies[0] || table.appendChild(el("tbody"));
    while (body.firstChild) {
      body.removeChild(body.firstChild);
    }
    var usable = [];
    keys.forEach(function (k, i) {
      var tr = el("tr");
      var pick = el("td");
      if (k.cert) {
        var radio = el("input");
        radio.type = "radio";
        radio.name = "ukey-serial";
        radio.value = k.serial;
        radio.id = "ukey-key-" + i;
        radio.checked = usable.length === 0;
        pick.appendChild(radio);
        usable.push(k);
      }
      tr.appendChild(pick);
      tr.appendChild(el("td", k.serial));
      tr.appendChild(el("td", k.holder_label || "—"));
      tr.appendChild(el("td", k.cert ? k.cert.subject : "证书无法读取：" + (k.cert_problem || "")));
      tr.appendChild(el("td", k.cert ? datePart(k.cert.not_before) + " 至 " + datePart(k.cert.not_after) : "—"));
      tr.appendChild(el("td", k.pin.locked ? "已锁定" : "还可尝试 " + k.pin.tries_left + " 次"));
      body.appendChild(tr);
    });
    table.hidden = keys.length === 0;
    // The chosen key's UKEY信息, kept in step with the choice.
    var info = $(table.id.replace(/-keys$/, "-info"));
    if (info) {
      var show = function () {
        var serial = (table.querySelector("input[name=ukey-serial]:checked") || {}).value;
        fillInfo(info, keyInfo(usable.filter(function (k) {
          return k.serial === serial;
        })[0]));
      };
      body.querySelectorAll("input[name=ukey-serial]").forEach(function (r) {
        r.addEventListener("change", show);
      });
      show();
    }
    return usable;
  }

  function chosenSerial(root) {
    var r = root.querySelector("input[name=ukey-serial]:checked");
    return r ? r.value : "";
  }

  function Log(list) {
    this.list = list;
  }

  Log.prototype.step = function (text) {
    var li = el("li", text);
    this.list.appendChild(li);
    return li;
  };

  Log.prototype.clear = function () {
    while (this.list.firstChild) {
      this.list.removeChild(this.list.firstChild);
    }
  };

  function showError(box, e) {
    box.textContent = e.message;
    box.hidden = false;
  }

  // Shows the PIN counter after a refusal: 还可尝试 N 次, or locked.
  function showTries(box, e) {
    if (e.code === "wrong_pin") {
      box.textContent = "锁密码（PIN）错误，还可尝试 " + e.extra.tries_left + " 次";
      box.hidden = false;
    } else if (e.code === "pin_locked") {
      box.textContent = "证书锁已锁定（PIN 错误次数过多），请联系客服解锁";
      box.hidden = false;
    }
  }

  // Connects, pairs and lists the keys into the panel; returns the agent, or null with the reason shown.
  async function connect(root, status) {
    var agent = new Agent(root.dataset.agent);
    try {
      await agent.pair();
      var keys = await agent.keys();
      var usable = showKeys($(root.id + "-keys"), keys);
      if (keys.length === 0) {
        status.textContent = "证书助手已连接，但没有检测到证书锁：请插入证书锁后点击「重新检测」";
        return null;
      }
      if (usable.length === 0) {
        status.textContent = "检测到证书锁，但无法读取其中的证书：请确认插入的是已领取的数字证书 UKey";
        return null;
      }
      status.textContent = "证书助手已连接，检测到 " + keys.length + " 把证书锁";
      agent.found = usable;
      return agent;
    } catch (e) {
      status.textContent = e.message;
      return null;
    }
  }

  function pinOf(root) {
    var input = $(root.id + "-pin");
    return input ? input.value : "";
  }

  // ---- an order: 授权 (sign the challenge, bind the key, make the seals) and 写入 (write, read back) ----

  async function writeSeals(agent, serial, pin, order, csrf, log) {
    log.step("正在下载已制作的印章…");
    var seals = await platform("GET", "/orders/" + order + "/seals", csrf);
    // 续期 / 变更: the earlier seals that are on this key give way in the same all-or-nothing write.
    var replaces = (await platform("GET", "/orders/" + order + "/replaces", csrf)).es_ids;
    var present = (await agent.call("GET", agent.key(serial, "/seals"))).seals.map(function (s) {
      return s.es_id;
    });
    var remove = replaces.filter(function (id) {
      return present.indexOf(id) >= 0;
    });
    if (remove.length > 0) {
      log.step("将替换证书锁上原有的 " + remove.length + " 枚印章");
    }
    log.step("正在写入证书锁（" + seals.length + " 枚印章）…");
    await agent.call("POST", agent.key(serial, "/seals"), {
      pin: pin,
      seals: seals.map(function (s) {
        return s.der_b64;
      }),
      delete: remove
    });
    log.step("正在从证书锁读回印章并由证书锁签名…");
    var back = await agent.call("POST", agent.key(serial, "/seals/readback"), {
      pin: pin,
      es_ids: seals.map(function (s) {
        return s.es_id;
      })
    });
    log.step("正在向平台提交读回结果…");
    return platform("POST", "/orders/" + order + "/written", csrf, {
      receipts: back.receipts.map(function (r) {
        return { es_id: r.es_id, signature: r.signature };
      })
    });
  }

  async function orderPanel(root) {
    var status = $("ukey-status");
    var go = $("ukey-go");
    var err = $("ukey-error");
    var tries = $("ukey-tries");
    var log = new Log($("ukey-log"));
    var order = root.dataset.order;
    var csrf = root.dataset.csrf;
    var agent = null;

    async function refresh() {
      go.disabled = true;
      agent = await connect(root, status);
      go.disabled = agent === null;
    }

    $("ukey-refresh").addEventListener("click", refresh);
    go.addEventListener("click", async function () {
      var serial = chosenSerial(root);
      var pin = pinOf(root);
      err.hidden = true;
      tries.hidden = true;
      if (!agent || !serial) {
        return;
      }
      if (!pin) {
        showError(err, fail("请输入证书锁密码（PIN）"));
        return;
      }
      go.disabled = true;
      log.clear();
      try {
        log.step("正在校验锁密码…");
        var st = await agent.call("POST", agent.key(serial, "/pin"), { pin: pin });
        tries.textContent = "锁密码正确（还可尝试 " + st.tries_left + " 次）";
        tries.hidden = false;
        if (root.dataset.step === "authorize") {
          log.step("正在获取授权挑战…");
          var ch = await platform("POST", "/orders/" + order + "/authorize/challenge", csrf);
          log.step("正在用证书锁签名…");
          var signed = await agent.call("POST", agent.key(serial, "/sign"), {
            pin: pin,
            challenge: ch.challenge
          });
          log.step("正在授权并制作印章…");
          await platform("POST", "/orders/" + order + "/authorize", csrf, {
            cert_der_b64: signed.cert,
            nonce: ch.nonce,
            signature: signed.signature
          });
        }
        var done = await writeSeals(agent, serial, pin, order, csrf, log);
        if (done.state !== "completed") {
          throw fail("平台未确认写入，请重试");
        }
        $("ukey-pin").value = "";
        $("ukey-done").hidden = false;
        log.step("印章办理完成");
        window.setTimeout(function () {
          window.location.reload();
        }, 1500);
      } catch (e) {
        showTries(tries, e);
        showError(err, e);
        go.disabled = false;
      }
    });
    await refresh();
  }

  // ---- 证书登录 ----

  async function loginPanel(root) {
    var status = $("ukey-login-status");
    var go = $("ukey-login-go");
    var err = $("ukey-login-error");
    var tries = $("ukey-login-tries");
    var form = $("ukey-login-form");
    var agent = null;

    async function refresh() {
      go.disabled = true;
      agent = await connect(root, status);
      go.disabled = agent === null;
    }

    $("ukey-login-refresh").addEventListener("click", refresh);
    go.addEventListener("click", async function () {
      var serial = chosenSerial(root);
      var pin = pinOf(root);
      err.hidden = true;
      tries.hidden = true;
      if (!agent || !serial) {
        return;
      }
      if (!pin) {
        showError(err, fail("请输入证书锁密码（PIN）"));
        return;
      }
      go.disabled = true;
      try {
        var ch = await platform("POST", "/auth/ukey/challenge", "");
        var signed = await agent.call("POST", agent.key(serial, "/sign"), {
          pin: pin,
          challenge: ch.challenge
        });
        $("ukey-login-pin").value = "";
        form.elements.namedItem("cert_der_b64").value = signed.cert;
        form.elements.namedItem("nonce").value = ch.nonce;
        form.elements.namedItem("signature").value = signed.signature;
        form.submit();
      } catch (e) {
        showTries(tries, e);
        showError(err, e);
        go.disabled = false;
      }
    });
    await refresh();
  }

  // ---- 续期 / 变更 start here: read the key, find the orders whose seals are on it ----

  async function startPanel(root) {
    var status = $("ukey-start-status");
    var go = $("ukey-start-go");
    var err = $("ukey-start-error");
    var result = $("ukey-start-result");
    var csrf = root.dataset.csrf;
    var service = root.dataset.service;
    var label = root.dataset.label;
    var agent = null;

    async function refresh() {
      go.disabled = true;
      agent = await connect(root, status);
      go.disabled = agent === null;
    }

    function row(dl, name, value) {
      dl.appendChild(el("dt", name + "："));
      dl.appendChild(el("dd", value));
    }

    function showOrders(key, answer) {
      while (result.firstChild) {
        result.removeChild(result.firstChild);
      }
      if (answer.expired && service === "renewal") {
        throw fail(answer.expired, "cert_expired");
      }
      if (answer.orders.length === 0) {
        throw fail("该证书锁上没有在本平台办理且仍有效的印章：请确认插入的是需要" + label + "的证书锁，或从下面「我的订单」中选择", "no_orders");
      }
      answer.orders.forEach(function (o) {
        var box = el("div");
        box.className = "key-order";
        box.id = "key-order-" + o.id;
        box.appendChild(el("h3", "订单 " + o.order_no + "（" + o.service_label + "）"));
        var dl = el("dl");
        dl.className = "ukey-info";
        row(dl, "授权单位", o.unit);
        row(dl, "授权类型", o.kind);
        row(dl, "印章授权开始时间", datePart(beijing(o.valid_start)));
        row(dl, "印章授权截止时间", datePart(beijing(o.valid_end)));
        row(dl, "印章", o.seals.map(function (m) {
          return m.name + "（" + m.kind_label + "，" + datePart(beijing(m.valid_start)) + " 至 " + datePart(beijing(m.valid_end)) + "）";
        }).join("；"));
        box.appendChild(dl);
        if (o.cert_changed) {
          var note = el("p", "证书锁中的证书已更换（原印章的证书序列号 " + o.bound_serial + "，现为 " + key.cert.serial.toUpperCase() + "）：" + label + "的印章将使用新证书制作。");
          note.className = "flash ok cert-changed";
          box.appendChild(note);
        }
        var next = el("a", "下一步：" + label + "这些印章");
        next.className = "button";
        next.id = "key-next-" + o.id;
        next.href = "/orders/new?service=" + encodeURIComponent(service) + "&previous=" + encodeURIComponent(o.id) +
          "&key_cert=" + encodeURIComponent(key.cert.der_base64);
        box.appendChild(el("p")).appendChild(next);
        result.appendChild(box);
      });
    }

    $("ukey-start-refresh").addEventListener("click", refresh);
    go.addEventListener("click", async function () {
      err.hidden = true;
      var serial = chosenSerial(root);
      var key = agent && agent.found.filter(function (k) {
        return k.serial === serial;
      })[0];
      if (!agent || !key) {
        return;
      }
      go.disabled = true;
      try {
        var answer = await platform("POST", "/ukey/orders", csrf, { cert_der_b64: key.cert.der_base64 });
        showOrders(key, answer);
      } catch (e) {
        showError(err, e);
      }
      go.disabled = false;
    });
    await refresh();
  }

  // ---- 环境检测: agent running, a key present, its certificate readable; a named fix for each failure ----

  function checkRow(list, name) {
    var li = el("li");
    li.appendChild(el("strong", name + "："));
    var result = el("span", "检测中…");
    li.appendChild(result);
    var fix = el("p");
    fix.className = "hint";
    fix.hidden = true;
    li.appendChild(fix);
    list.appendChild(li);
    return {
      ok: function (text) {
        li.className = "check-ok";
        result.textContent = "通过 — " + text;
      },
      bad: function (text, how) {
        li.className = "check-bad";
        result.textContent = "未通过 — " + text;
        fix.textContent = "解决办法：" + how;
        fix.hidden = false;
      }
    };
  }

  async function checkPage(root) {
    var list = $("ukey-check-results");
    async function run() {
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      var agent = new Agent(root.dataset.agent);
      var running = checkRow(list, "证书助手");
      var st;
      try {
        st = await agent.call("GET", "/v1/status");
      } catch (e) {
        running.bad(
          "无法连接 " + agent.base,
          "安装证书助手（cargo install --path crates/agent，或下载发布的 sealdesk-agent），然后运行 sealdesk-agent --allow-origin " +
            window.location.origin + " --pkcs11-module 证书锁驱动库（或 --soft-token 目录），保持窗口打开后点击「重新检测」"
        );
        return;
      }
      running.ok("已运行（" + st.backend + "，版本 " + st.version + "）");
      var paired = checkRow(list, "本网站可使用证书助手");
      try {
        await agent.pair();
        paired.ok("已配对");
      } catch (e) {
        paired.bad(e.message, "启动证书助手时加上 --allow-origin " + window.location.origin);
        return;
      }
      var present = checkRow(list, "证书锁");
      var keys;
      try {
        keys = await agent.keys();
      } catch (e) {
        present.bad(e.message, "重新插拔证书锁；仍不行时确认 --pkcs11-module 指向证书锁厂商的驱动库");
        return;
      }
      if (keys.length === 0) {
        present.bad(
          "没有检测到证书锁",
          "插入证书锁（换一个 USB 口试试）；确认证书助手的 --pkcs11-module 是这把锁的驱动库"
        );
        return;
      }
      present.ok("检测到 " + keys.length + " 把：" + keys.map(function (k) {
        return k.serial;
      }).join("、"));
      var readable = checkRow(list, "证书");
      var good = keys.filter(function (k) {
        return k.cert;
      });
      if (good.length === 0) {
        readable.bad(
          keys[0].cert_problem || "证书无法读取",
          "确认插入的是已领取的数字证书 UKey；证书损坏或未下载时请联系发证机构重新下载证书"
        );
        return;
      }
      readable.ok(good.map(function (k) {
        return (k.holder_label || "") + " " + k.cert.subject + "（" + datePart(k.cert.not_before) + " 至 " + datePart(k.cert.not_after) + "）";
      }).join("；"));
      var valid = checkRow(list, "证书有效期");
      var now = new Date().toISOString();
      var current = good.filter(function (k) {
        return k.cert.not_before <= now && now <= k.cert.not_after;
      });
      if (current.length === 0) {
        valid.bad("证书不在有效期内", "先到发证机构办理证书续期，再办理电子印章");
      } else {
        valid.ok("在有效期内");
      }
      var pin = checkRow(list, "锁密码");
      var locked = good.filter(function (k) {
        return k.pin.locked;
      });
      if (locked.length === good.length) {
        pin.bad("证书锁已锁定", "联系客服或发证机构解锁证书锁");
      } else {
        pin.ok("未锁定（还可尝试 " + good[0].pin.tries_left + " 次）");
      }
      var write = checkRow(list, "写入印章");
      if (st.can_write) {
        write.ok("证书助手已配置平台的制章者证书");
      } else {
        write.bad(
          "证书助手未配置制章者证书，不能写入印章",
          "下载制章者证书（/api/v1/maker-certificate），启动证书助手时加上 --maker-cert 该文件"
        );
      }
    }
    $("ukey-check-again").addEventListener("click", run);
    await run();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = $("ukey");
    if (root) {
      orderPanel(root);
    }
    root = $("ukey-login");
    if (root) {
      loginPanel(root);
    }
    root = $("ukey-check");
    if (root) {
      checkPage(root);
    }
    root = $("ukey-start");
    if (root) {
      startPanel(root);
    }
  });
})();
