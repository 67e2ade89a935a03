// A single-page app: authorization code with PKCE (S256), no secret, no framework.
// config.json (served beside this file) names the server, the client_id and the redirect URI.
"use strict";

const $ = (id) => document.getElementById(id);

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function s256(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

async function tokenRequest(config, fields) {
  // A form-encoded POST without credentials: a "simple" cross-origin request.
  const response = await fetch(config.server + "/oauth/token", {
    method: "POST",
    body: new URLSearchParams({ client_id: config.client_id, ...fields }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || "token request failed");
  return body;
}

async function login(config) {
  const verifier = randomString();
  const state = randomString();
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: config.redirect_uri,
    scope: config.scope,
    state,
    code_challenge: await s256(verifier),
    code_challenge_method: "S256",
  });
  location.assign(config.server + "/oauth/authorize?" + query);
}

async function finishLogin(config, params) {
  const saved = JSON.parse(sessionStorage.getItem("pkce") || "{}");
  sessionStorage.removeItem("pkce");
  history.replaceState(null, "", "/");
  if (params.get("error") === "access_denied") return show("You declined. Sign in again any time.");
  if (!saved.state || params.get("state") !== saved.state) return show("Sign-in failed (state).");
  const token = await tokenRequest(config, {
    grant_type: "authorization_code",
    code: params.get("code"),
    redirect_uri: config.redirect_uri,
    code_verifier: saved.verifier,
  });
  keep(token);
}

function keep(token) {
  // Memory only would be safer still; sessionStorage survives this tab's reloads.
  sessionStorage.setItem("token", JSON.stringify(token));
  show(`Signed in. Scope: ${token.scope}. Access token valid for ${token.expires_in} s.`, true);
}

function show(text, signedIn = false) {
  $("status").textContent = text;
  $("login").hidden = signedIn;
  $("refresh").hidden = $("logout").hidden = !signedIn;
}

async function main() {
  const config = await (await fetch("config.json")).json();
  const params = new URLSearchParams(location.search);
  $("login").onclick = () => login(config);
  $("refresh").onclick = async () => {
    const token = JSON.parse(sessionStorage.getItem("token"));
    try {
      keep(await tokenRequest(config, { grant_type: "refresh_token", refresh_token: token.refresh_token }));
    } catch (error) {
      sessionStorage.removeItem("token");
      show("Your access was revoked or has expired. Please sign in again.");
    }
  };
  $("logout").onclick = async () => {
    const token = JSON.parse(sessionStorage.getItem("token"));
    await fetch(config.server + "/oauth/revoke", {
      method: "POST",
      body: new URLSearchParams({ client_id: config.client_id, token: token.refresh_token }),
    });
    sessionStorage.removeItem("token");
    show("Signed out.");
  };
  if (params.has("code") || params.has("error")) return finishLogin(config, params);
  const token = sessionStorage.getItem("token");
  if (token) keep(JSON.parse(token));
}

main().catch((error) => show("Error: " + error.message));
