// webauthn.js: passkey registration and sign-in for console forms.
//
// Served same-origin under CSP script-src 'self'; no inline code, no eval.
// Contract (the server side is internal/mfa/passkey):
//
//   <form method="post" action="..." data-webauthn="register" (or "login")
//         data-options-url="..." [data-webauthn-auto]>
//     ...any other fields, such as the CSRF token...
//     <p data-webauthn-error hidden></p>
//     <button type="submit">Use a passkey</button>
//   </form>
//
// On submit (or at once with data-webauthn-auto) the script GETs
// data-options-url, which answers {"publicKey": {...}} as go-webauthn emits
// it, runs navigator.credentials.create() or .get(), writes the result as
// JSON into a hidden input named "credential" and submits the form (a normal
// POST, so the server answers with a page). Errors go to [data-webauthn-error].
(function () {
  "use strict";

  // go-webauthn encodes binary fields as base64url without padding.
  function toBuf(s) {
    var b64 = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64url(buf) {
    var bytes = new Uint8Array(buf), bin = "";
    for (var i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBuf(c.id) });
    });
  }

  // decodeOptions turns the options JSON into what the browser API takes.
  function decodeOptions(kind, json) {
    var pk = json && json.publicKey;
    if (!pk || !pk.challenge) throw new Error("The server sent no passkey options.");
    pk.challenge = toBuf(pk.challenge);
    if (kind === "register") {
      pk.user.id = toBuf(pk.user.id);
      pk.excludeCredentials = descriptors(pk.excludeCredentials);
    } else {
      pk.allowCredentials = descriptors(pk.allowCredentials);
    }
    var opts = { publicKey: pk };
    if (json.mediation) opts.mediation = json.mediation;
    return opts;
  }

  // encodeCredential builds the JSON go-webauthn's protocol parsers read.
  function encodeCredential(cred) {
    var r = cred.response;
    var out = {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      clientExtensionResults: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {},
      response: { clientDataJSON: toB64url(r.clientDataJSON) }
    };
    if (cred.authenticatorAttachment) out.authenticatorAttachment = cred.authenticatorAttachment;
    if (r.attestationObject) { // create()
      out.response.attestationObject = toB64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else { // get()
      out.response.authenticatorData = toB64url(r.authenticatorData);
      out.response.signature = toB64url(r.signature);
      if (r.userHandle) out.response.userHandle = toB64url(r.userHandle);
    }
    return JSON.stringify(out);
  }

  function messageFor(err) {
    switch (err && err.name) {
      case "NotAllowedError": return "The passkey request was cancelled, timed out or not allowed.";
      case "InvalidStateError": return "This authenticator is already registered.";
      case "SecurityError": return "This address does not match the gateway's passkey settings.";
      case "NotSupportedError": return "This browser or authenticator does not support passkeys.";
    }
    return (err && err.message) || String(err);
  }

  function showError(form, msg) {
    var el = form.querySelector("[data-webauthn-error]") || document.querySelector("[data-webauthn-error]");
    if (!el) return;
    el.textContent = msg;
    el.hidden = !msg;
  }

  function credentialField(form) {
    var input = form.querySelector('input[name="credential"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = "credential";
      form.appendChild(input);
    }
    return input;
  }

  async function run(form, kind) {
    if (form.dataset.webauthnBusy) return; // one ceremony at a time
    form.dataset.webauthnBusy = "1";
    showError(form, "");
    try {
      if (!window.PublicKeyCredential || !navigator.credentials) {
        throw new Error("This browser does not support passkeys.");
      }
      if (!form.dataset.optionsUrl) throw new Error("The form has no data-options-url.");
      var res = await fetch(form.dataset.optionsUrl, {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" }
      });
      if (!res.ok) throw new Error("Could not start (the server answered " + res.status + ").");
      var opts = decodeOptions(kind, await res.json());
      var cred = kind === "register"
        ? await navigator.credentials.create(opts)
        : await navigator.credentials.get(opts);
      if (!cred) throw new Error("No passkey was returned.");
      credentialField(form).value = encodeCredential(cred);
      // The prototype's submit, in case a control named "submit" shadows it;
      // it fires no submit event, so run() is not re-entered.
      HTMLFormElement.prototype.submit.call(form);
    } catch (err) {
      delete form.dataset.webauthnBusy;
      showError(form, messageFor(err));
    }
  }

  function init() {
    document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
      var kind = form.dataset.webauthn;
      if (kind !== "register" && kind !== "login") return;
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        run(form, kind);
      });
      if (form.hasAttribute("data-webauthn-auto")) run(form, kind);
    });
  }

  // A page restored from the back/forward cache may still be marked busy.
  window.addEventListener("pageshow", function (ev) {
    if (!ev.persisted) return;
    document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
      delete form.dataset.webauthnBusy;
    });
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
