// The conversion of a mod_jk setup (migrate.h): what each directive becomes, where, the
// warnings and errors, and that the core's config model accepts the result.
#include <catch2/catch.hpp>

#include <string>

#include "convert_support.h"

using namespace idmb::migrate;
using idmb::test::memory_files;
using idmb::test::read_back;

namespace {

const std::string kWorkers =
    "worker.list=lb,self,jkstatus,jkmanager\n"
    "worker.t1.host=127.0.0.1\nworker.t1.port=8009\n"
    "worker.t2.host=127.0.0.1\nworker.t2.port=8010\n"
    "worker.lb.type=lb\nworker.lb.balance_workers=t1,t2\n"
    "worker.self.type=lb\nworker.self.balance_workers=t2\n"
    "worker.jkstatus.type=status\nworker.jkstatus.read_only=true\n"
    "worker.jkmanager.type=status\n";

Result ok(const std::string& conf, const std::string& workers = kWorkers) {
  auto r = convert({"/etc/apache2/httpd.conf"},
                   memory_files({{"/etc/apache2/httpd.conf", conf}, {"/etc/apache2/workers.properties", workers}}));
  INFO((r.ok() ? std::string() : r.error()));
  REQUIRE(r.ok());
  return *r;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

// No line outside comments starts with a Jk directive.
bool jk_free(const std::string& text) {
  std::size_t pos = 0;
  while ((pos = text.find("Jk", pos)) != std::string::npos) {
    const std::size_t bol = text.rfind('\n', pos) + 1;
    const std::string head = text.substr(bol, pos - bol);
    if (head.find_first_not_of(" \t") == std::string::npos) return false;
    pos += 2;
  }
  return true;
}

}  // namespace

TEST_CASE("convert: JkMount and JkUnMount in the server config and in a VirtualHost") {
  const Result r =
      ok("JkWorkersFile workers.properties\n"
         "JkMount /app/* lb\n"
         "JkUnMount /app/static/* lb\n"
         "<VirtualHost *:80>\n"
         "    JkMount /self/* self\n"
         "    JkUnMount /self/img/* *\n"
         "</VirtualHost>\n");
  CHECK(has_line(r.output, "# mod_jk: JkMount /app/* lb"));
  CHECK(has_line(r.output, "IdmMount /app/* lb"));
  CHECK(has_line(r.output, "IdmUnmount /app/static/* lb"));
  CHECK(has_line(r.output, "    IdmMount /self/* self"));
  CHECK(has_line(r.output, "    IdmUnmount /self/img/* *"));
  CHECK(has_line(r.output, "<IdmBalancer lb>"));
  CHECK(has_line(r.output, "    IdmMember t1 ajp://127.0.0.1:8009"));
  CHECK(jk_free(r.output));
  const auto back = read_back(r.output);
  INFO((back.ok() ? std::string() : back.error()));
  CHECK(back.ok());
}

TEST_CASE("convert: the output is refused by the core when it names a balancer nobody defined") {
  // The converter checks this itself: a mount of an ajp13 worker that is not in worker.list
  // is left out with a warning rather than written.
  const Result r = ok("JkWorkersFile workers.properties\nJkMount /x/* t1\n");
  CHECK_FALSE(has_line(r.output, "IdmMount /x/* t1"));
  REQUIRE(r.warnings.size() >= 1);
  CHECK(format_warning(r.warnings.back()) ==
        "/etc/apache2/httpd.conf:2: warning: worker 't1' is not in worker.list: not mounted");
  CHECK(read_back(r.output).ok());
}

TEST_CASE("convert: JkMountCopy in the main server and in vhosts") {
  const Result r =
      ok("JkWorkersFile workers.properties\nJkMount /app/* lb\n"
         "<VirtualHost *:80>\n  JkMountCopy On\n</VirtualHost>\n"
         "<VirtualHost *:81>\n  JkMount /self/* self\n</VirtualHost>\n",
         kWorkers);
  CHECK(has_line(r.output, "IdmMountCopy Off"));  // mod_jk's default for the main server
  CHECK(has_line(r.output, "  IdmMountCopy On"));
  const Result all = ok("JkWorkersFile workers.properties\nJkMountCopy All\n", kWorkers);
  CHECK(has_line(all.output, "IdmMountCopy On"));
  CHECK_FALSE(has_line(all.output, "IdmMountCopy Off"));
}

TEST_CASE("convert: JkMount WORKER inside <Location>, and the status workers") {
  const Result r =
      ok("JkWorkersFile workers.properties\n"
         "<Location /app/admin>\n  JkMount lb\n</Location>\n"
         "<Location /nojk>\n  JkUnMount lb\n</Location>\n"
         "JkMount /jkstatus/* jkstatus\n"
         "JkMount /jkmanager jkmanager\n",
         kWorkers);
  // mod_jk maps the Location's exact path: an IdmMount of the server, after the </Location>.
  CHECK(r.output.find("</Location>\nIdmMount /app/admin lb\n") != std::string::npos);
  CHECK(has_line(r.output,
                 "  # idmbalance-migrate: IdmMount /app/admin lb (this exact path, as mod_jk maps it) "
                 "follows the </Location>; IdmMount lb here would apply to every path the <Location> "
                 "covers"));
  CHECK(r.output.find("</Location>\nIdmUnmount /nojk lb\n") != std::string::npos);
  CHECK(has_line(r.output, "<Location /jkstatus>"));
  CHECK(has_line(r.output, "    SetHandler idmbalance-status"));
  CHECK(has_line(r.output, "<LocationMatch ^/jkmanager$>"));
  CHECK(has_line(r.output, "    SetHandler idmbalance-manager"));
  CHECK(read_back(r.output).ok());
}

TEST_CASE("convert: JkMount WORKER inside <LocationMatch>: the expression's text as a pattern, as mod_jk") {
  const Result r =
      ok("JkWorkersFile workers.properties\n"
         "<VirtualHost *:80>\n"
         "<LocationMatch \"/app/export.csv\">\n  JkMount lb\n</LocationMatch>\n"
         "<Location ~ \"/app/report.pdf\">\n  JkUnMount lb\n</Location>\n"
         "<LocationMatch \"^/app/(a|b)/\">\n  JkMount lb\n</LocationMatch>\n"
         "</VirtualHost>\n");
  CHECK(r.output.find("</LocationMatch>\nIdmMount /app/export.csv lb\n") != std::string::npos);
  CHECK(r.output.find("</Location>\nIdmUnmount /app/report.pdf lb\n") != std::string::npos);
  CHECK(r.output.find("IdmMount ^/app") == std::string::npos);
  REQUIRE(r.warnings.size() == 3);
  CHECK_THAT(format_warning(r.warnings[0]),
             Catch::StartsWith("/etc/apache2/httpd.conf:4: warning: mod_jk takes the <LocationMatch> expression as a "
                               "path pattern, not as an expression: IdmMount /app/export.csv lb (the same) follows"));
  CHECK_THAT(format_warning(r.warnings[0]), Catch::Contains("write IdmMount lb inside the <LocationMatch> instead"));
  CHECK_THAT(format_warning(r.warnings[2]),
             Catch::Contains("which mod_jk refuses unless it starts with '/': not carried over"));
  CHECK(read_back(r.output).ok());
}

TEST_CASE("convert: uriworkermap rules where JkMountFile stood") {
  auto r = convert({"/etc/apache2/httpd.conf"}, memory_files({{"/etc/apache2/httpd.conf",
                                                               "JkWorkersFile workers.properties\n<VirtualHost *:80>\n"
                                                               "JkMountFile uriworkermap.properties\n</VirtualHost>\n"},
                                                              {"/etc/apache2/workers.properties", kWorkers},
                                                              {"/etc/apache2/uriworkermap.properties",
                                                               "# rules\n/app|/*=lb\n!/app/*.png=lb\n-/old/*=lb\n"
                                                               "/self/*=self;disabled=t2\n"}}));
  REQUIRE(r.ok());
  CHECK(has_line(r->output, "IdmMount /app lb"));
  CHECK(has_line(r->output, "IdmMount /app/* lb"));
  CHECK(has_line(r->output, "IdmUnmount /app/*.png lb"));
  CHECK(r->output.find("/old/") == r->output.rfind("# mod_jk: -/old/*=lb") + 11);  // only in the comment
  REQUIRE(r->warnings.size() == 1);
  CHECK(format_warning(r->warnings[0])
            .rfind("/etc/apache2/uriworkermap.properties:5: warning: rule extension "
                   "disabled=t2 is not carried over",
                   0) == 0);
  CHECK(read_back(r->output).ok());
}

TEST_CASE("convert: member properties, lb properties, templates") {
  const std::string workers =
      "worker.list=lb\n"
      "worker.tmpl.type=ajp13\nworker.tmpl.socket_connect_timeout=2500\nworker.tmpl.ping_mode=A\n"
      "worker.tmpl.ping_timeout=1500\nworker.tmpl.connection_pool_timeout=600\n"
      "worker.tmpl.max_packet_size=20000\n"
      "worker.t1.reference=worker.tmpl\nworker.t1.host=10.0.0.1\nworker.t1.route=r1\nworker.t1.lbfactor=3\n"
      "worker.t1.domain=siteA\nworker.t1.redirect=t2\nworker.t1.secret=s1\n"
      "worker.t2.reference=worker.tmpl\nworker.t2.host=10.0.0.2:8010\nworker.t2.activation=disabled\n"
      "worker.t3.reference=worker.tmpl\nworker.t3.host=10.0.0.3\nworker.t3.activation=S\n"
      "worker.lb.type=lb\nworker.lb.balance_workers=t1 t2,t3\nworker.lb.sticky_session_force=yes\n"
      "worker.lb.session_cookie=SID\nworker.lb.session_path=;sid\nworker.lb.method=B\nworker.lb.secret=s\n";
  const Result r = ok("JkWorkersFile workers.properties\n", workers);
  CHECK(
      has_line(r.output, "    IdmMember t1 ajp://10.0.0.1:8009 route=r1 factor=3 domain=siteA redirect=t2 secret=s1"));
  CHECK(has_line(r.output, "    IdmMember t2 ajp://10.0.0.2:8010 status=disabled"));
  CHECK(has_line(r.output, "    IdmMember t3 ajp://10.0.0.3:8009 status=stopped"));
  CHECK(has_line(r.output, "    IdmConnectTimeout 2500ms"));
  CHECK(has_line(r.output, "    IdmPingAfterIdle 0"));
  CHECK(has_line(r.output, "    IdmPingTimeout 1500ms"));
  CHECK(has_line(r.output, "    IdmPoolIdleTimeout 600s"));
  CHECK(has_line(r.output, "    IdmPacketSize 20480"));
  CHECK(has_line(r.output, "    IdmSticky SID sid force"));
  CHECK(has_line(r.output, "    IdmMethod busyness"));
  CHECK(has_line(r.output, "    IdmSecret s"));
  CHECK(r.warnings.empty());
  CHECK(read_back(r.output).ok());
}

TEST_CASE("convert: sticky_session off in any spelling, methods Session and Next with a warning") {
  for (const char* off : {"false", "0", "off", "No", "F"}) {
    const Result r = ok("JkWorkersFile workers.properties\n",
                        std::string("worker.list=lb\nworker.t1.port=8009\nworker.lb.type=lb\n"
                                    "worker.lb.balance_workers=t1\nworker.lb.sticky_session=") +
                            off + "\n");
    CHECK(has_line(r.output, "    IdmSticky off"));
  }
  for (const char* m : {"S", "session", "N", "next", "3"}) {
    const Result r =
        ok("JkWorkersFile workers.properties\n", std::string("worker.list=lb\nworker.t1.port=8009\nworker.lb.type=lb\n"
                                                             "worker.lb.balance_workers=t1\nworker.lb.method=") +
                                                     m + "\n");
    CHECK(r.output.find("\n    IdmMethod") == std::string::npos);  // requests is the default
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].origin.line == 5);
    CHECK(r.warnings[0].message.find("IdmMethod requests is nearest") != std::string::npos);
  }
}

TEST_CASE("convert: lbfactor above this build's largest factor is scaled, keeping the ratios") {
  const Result r = ok("JkWorkersFile workers.properties\n",
                      "worker.list=lb\nworker.t1.port=8009\nworker.t1.lbfactor=1000\nworker.t2.port=8010\n"
                      "worker.t2.lbfactor=250\nworker.lb.type=lb\nworker.lb.balance_workers=t1,t2\n");
  if (idmb::config::kMaxFactor >= 1000) {
    CHECK(has_line(r.output, "    IdmMember t1 ajp://localhost:8009 factor=1000"));
    CHECK(r.warnings.empty());
  } else {
    CHECK(has_line(r.output, "    IdmMember t1 ajp://localhost:8009 factor=100"));
    CHECK(has_line(r.output, "    IdmMember t2 ajp://localhost:8010 factor=25"));
    REQUIRE(r.warnings.size() == 1);
    CHECK(r.warnings[0].origin.line == 3);
  }
}

TEST_CASE("convert: properties that cannot be carried over are warned about with their line") {
  const Result r = ok("JkWorkersFile workers.properties\n",
                      "worker.list=lb\nworker.t1.port=8009\nworker.t1.socket_keepalive=true\n"
                      "worker.t1.frobnicate=1\nworker.lb.type=lb\nworker.lb.balance_workers=t1\n"
                      "worker.lb.recover_time=30\n");
  REQUIRE(r.warnings.size() == 3);
  CHECK(format_warning(r.warnings[0])
            .rfind("/etc/apache2/workers.properties:4: warning: worker.t1.frobnicate is not carried over", 0) == 0);
  CHECK(format_warning(r.warnings[1])
            .rfind("/etc/apache2/workers.properties:3: warning: worker.t1.socket_keepalive is not carried over", 0) ==
        0);
  CHECK(r.warnings[2].origin.line == 7);
}

TEST_CASE("convert: LoadModule, IfModule, no-jk, dropped directives, JkEnvVar") {
  const Result r =
      ok("LoadModule jk_module /usr/lib/apache2/modules/mod_jk.so\n"
         "<IfModule mod_jk.c>\n"
         "JkWorkersFile workers.properties\nJkLogFile /var/log/apache2/mod_jk.log\nJkLogLevel info\n"
         "JkShmFile /run/jk.shm\nJkWatchdogInterval 60\n"
         "SetEnvIf Request_URI \"\\.gif$\" no-jk\n"
         "RewriteRule ^/x - [E=no-jk:1]\n"
         "JkEnvVar SHIB_MAIL unknown\n"
         "JkEnvVar SHIB_EMPTY \"\"\n"
         "</IfModule>\n",
         kWorkers);
  CHECK(has_line(r.output, "# mod_jk: LoadModule jk_module /usr/lib/apache2/modules/mod_jk.so"));
  CHECK(has_line(r.output, "<IfModule idmbalance_module>"));
  CHECK(has_line(r.output, "SetEnvIf Request_URI \"\\.gif$\" no-idmbalance"));
  CHECK(has_line(r.output, "RewriteRule ^/x - [E=no-idmbalance:1]"));
  CHECK(has_line(r.output, "IdmEnvAttribute SHIB_MAIL unknown"));
  // httpd hands mod_jk (TAKE12) an empty second argument as none: sent only when set.
  CHECK(has_line(r.output, "IdmEnvAttribute SHIB_EMPTY"));
  CHECK(r.warnings.empty());
  CHECK(jk_free(r.output));
}

TEST_CASE("convert: a JK_REMOTE_ADDR set by SetEnvIf becomes an explicit indicator") {
  const Result r =
      ok("JkWorkersFile workers.properties\n"
         "SetEnvIf X-Client-IP \"(.*)\" JK_REMOTE_ADDR=$1\n"
         "JkHTTPSIndicator X_HTTPS\nJkCIPHERIndicator SSL_CIPHER\n",
         kWorkers);
  CHECK(has_line(r.output, "IdmEnvIndicator remote_addr JK_REMOTE_ADDR"));
  CHECK(has_line(r.output, "IdmEnvIndicator https X_HTTPS"));
  CHECK(r.output.find("IdmEnvIndicator ssl_cipher") == std::string::npos);  // mod_ssl's own
}

TEST_CASE("convert: errors name FILE:LINE") {
  auto unreadable = convert({"/etc/apache2/httpd.conf"},
                            memory_files({{"/etc/apache2/httpd.conf", "\n\nJkWorkersFile /nowhere.properties\n"}}));
  REQUIRE_FALSE(unreadable.ok());
  CHECK(unreadable.error() == "/etc/apache2/httpd.conf:3: error: cannot read /nowhere.properties");

  auto no_conf = convert({"/missing.conf"}, memory_files({}));
  REQUIRE_FALSE(no_conf.ok());
  CHECK(no_conf.error() == "/missing.conf: error: cannot read /missing.conf");

  auto bad = convert({"/etc/apache2/httpd.conf"},
                     memory_files({{"/etc/apache2/httpd.conf", "JkWorkersFile w\n"},
                                   {"/etc/apache2/w", "worker.list=lb\nthis is not a property\n"}}));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().rfind("/etc/apache2/w:2: error:", 0) == 0);

  auto refused =
      convert({"/etc/apache2/httpd.conf"}, memory_files({{"/etc/apache2/httpd.conf", "JkWorkersFile w\n"},
                                                         {"/etc/apache2/w",
                                                          "worker.list=lb\nworker.t1.route=a/b\n"
                                                          "worker.lb.type=lb\nworker.lb.balance_workers=t1\n"}}));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("is refused") != std::string::npos);
}

TEST_CASE("convert: routes with dots, digits first, dashes and underscores are carried over") {
  const Result r = ok("JkWorkersFile workers.properties\n",
                      "worker.list=lb\n"
                      "worker.t1.host=10.0.0.1\nworker.t1.route=dc1.web1.example.org\n"
                      "worker.t2.host=10.0.0.2\nworker.t2.route=01_node-2\n"
                      "worker.t3.host=10.0.0.3\nworker.t3.route=dc2.n3\nworker.t3.domain=own\n"
                      "worker.lb.type=lb\nworker.lb.balance_workers=t1,t2,t3\n");
  // mod_jk puts a member whose route has a '.' in the domain before it, unless domain is set.
  CHECK(has_line(r.output, "    IdmMember t1 ajp://10.0.0.1:8009 route=dc1.web1.example.org domain=dc1"));
  CHECK(has_line(r.output, "    IdmMember t2 ajp://10.0.0.2:8009 route=01_node-2"));
  CHECK(has_line(r.output, "    IdmMember t3 ajp://10.0.0.3:8009 route=dc2.n3 domain=own"));
  CHECK(r.warnings.empty());
}

TEST_CASE("convert: --workers and --uriworkermap override the files the config names") {
  auto o = memory_files({{"/etc/apache2/httpd.conf", "JkWorkersFile old.properties\nJkMountFile old.map\n"},
                         {"/tmp/w", kWorkers},
                         {"/tmp/u", "/app/*=lb\n"}});
  o.workers_file = "/tmp/w";
  o.uriworkermap_file = "/tmp/u";
  auto r = convert({"/etc/apache2/httpd.conf"}, o);
  REQUIRE(r.ok());
  CHECK(has_line(r->output, "IdmMount /app/* lb"));
}
