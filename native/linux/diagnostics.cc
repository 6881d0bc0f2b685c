// Linux diagnostics: the kernel audit status and how many audit rules carry a keysentry key
// ("keysentry-<pid>", or the bare "keysentry" of older agents).
#include <linux/audit.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "audit_rules.h"
#include "diagnostics.h"
#include "procfs.h"

namespace keysentry {

namespace {

bool send(int fd, uint16_t type, uint16_t flags, uint32_t seq) {
  nlmsghdr nlh{};
  nlh.nlmsg_len = NLMSG_LENGTH(0);
  nlh.nlmsg_type = type;
  nlh.nlmsg_flags = flags;
  nlh.nlmsg_seq = seq;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  return ::sendto(fd, &nlh, nlh.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0;
}

}  // namespace

std::string platformDiagnostics() {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT));
  if (!fd.valid()) return "{\"audit\":null}";
  if (!send(fd.get(), AUDIT_GET, NLM_F_REQUEST, 1) || !send(fd.get(), AUDIT_LIST_RULES, NLM_F_REQUEST, 2)) {
    return "{\"audit\":null}";
  }
  audit_status status{};
  bool have_status = false, rules_done = false;
  int our_rules = 0;
  alignas(nlmsghdr) static thread_local char buf[65536];
  while (!(have_status && rules_done)) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) break;
    size_t len = static_cast<size_t>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
      const size_t payload = nlh->nlmsg_len - NLMSG_HDRLEN;
      if (nlh->nlmsg_type == AUDIT_GET && payload >= sizeof status) {
        std::memcpy(&status, NLMSG_DATA(nlh), sizeof status);
        have_status = true;
      } else if (nlh->nlmsg_type == AUDIT_LIST_RULES) {
        int32_t owner = 0;
        if (audit_rules::isKeysentryKey(audit_rules::filterKey(static_cast<const audit_rule_data*>(NLMSG_DATA(nlh)), payload), owner)) ++our_rules;
      } else if (nlh->nlmsg_type == NLMSG_DONE || (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == 2)) {
        rules_done = true;
      }
    }
  }
  if (!have_status) return "{\"audit\":null}";
  return "{\"audit\":{\"enabled\":" + std::to_string(status.enabled) + ",\"pid\":" + std::to_string(status.pid) +
         ",\"backlogLimit\":" + std::to_string(status.backlog_limit) + ",\"lost\":" + std::to_string(status.lost) +
         ",\"keysentryRules\":" + (rules_done ? std::to_string(our_rules) : std::string("null")) + "}}";
}

}  // namespace keysentry
