// /repudiate#token=crp_...: "this wasn't me". One answer whatever the token (the
// API reveals nothing about the case); posted only on a click.
"use strict";

portal.linkAction({
  button: "stop",
  path: "/api/v1/self-service/repudiate",
  done(body) {
    portal.say(body.message, "ok");
  },
});
