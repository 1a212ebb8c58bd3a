"""An SMTP server on 127.0.0.1 that refuses every login and quotes the AUTH line back in its
535 answer, as some servers do: the test checks that systrade never prints or stores it.

Usage: smtp_auth_echo.py PORT LOGFILE — prints "ready", then serves until killed; each AUTH
command received is appended to LOGFILE (so the test knows the login was really tried).
Standard library only."""

import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.send("220 echo.test ESMTP")
        login_step = 0
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if login_step:
                # AUTH LOGIN: the user, then the password, each base64 on its own line.
                with open(sys.argv[2], "a") as f:
                    f.write(line + "\n")
                if login_step == 1:
                    login_step = 2
                    self.send("334 UGFzc3dvcmQ6")
                else:
                    login_step = 0
                    self.send("535 5.7.8 Authentication failed for " + line)
            elif verb in ("EHLO", "HELO"):
                self.send("250-echo.test")
                self.send("250 AUTH PLAIN LOGIN")
            elif verb == "AUTH":
                with open(sys.argv[2], "a") as f:
                    f.write(line + "\n")
                if line.upper().startswith("AUTH LOGIN"):
                    login_step = 1
                    self.send("334 VXNlcm5hbWU6")
                else:
                    self.send("535 5.7.8 Authentication failed: " + line)
            elif verb == "QUIT":
                self.send("221 bye")
                return
            else:
                self.send("250 OK")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


with Server(("127.0.0.1", int(sys.argv[1])), Handler) as srv:
    print("ready", flush=True)
    srv.serve_forever()
