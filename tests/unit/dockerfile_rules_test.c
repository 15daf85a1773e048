// SPDX-License-Identifier: Apache-2.0
// Dockerfile rules: for every rule, snippets that must trigger it (with the
// line of the finding) and snippets that must not, plus ignore pragmas,
// configuration (ignored ids, severity overrides, trusted registries,
// allowed images) and the .dockerignore lookup.

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <coffer/scan.h>
#include <coffer/scan_dockerfile.h>

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define GITHUB_TOKEN "ghp_0123456789abcdefghijABCDEFGHIJ012345"
#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"

enum {
	CASE_TRUSTED = 1,       // trusted_registries: docker.io
	CASE_ALLOWED = 2,       // allowed_images: alpine:*
	CASE_CONTEXT = 4,       // build context without .dockerignore
	CASE_CONTEXT_IGNORE = 8, // build context with .dockerignore
	CASE_LABELS = 16,        // the label schema below, with strict-labels
};

struct rule_case {
	const char *rule;
	int line; // line of the expected finding; 0: the rule must not fire
	const char *dockerfile;
	unsigned options;
};

#define F "FROM alpine:3.19\n"
// A LABEL line that satisfies the label schema of CASE_LABELS.
#define LABELS_OK                                                                         \
	"LABEL version=1.2.3 url=https://example.org created=2024-05-01T12:00:00Z "        \
	"license=\"MIT OR Apache-2.0\" revision=0123456789abcdef0123456789abcdef01234567 " \
	"contact=team@example.org title=app\n"

static const struct rule_case cases[] = {
	{ "CF-DF-000", 2, F "FROB x\n", 0 },
	{ "CF-DF-000", 2, F "RUN <<EOF\necho x\n", 0 },
	{ "CF-DF-000", 0, F "RUN echo ok\n", 0 },
	{ "CF-DF-000", 0, F "RUN <<EOF\necho x\nEOF\n", 0 },

	{ "DL3000", 2, F "WORKDIR app\n", 0 },
	{ "DL3000", 2, F "WORKDIR ../x\n", 0 },
	{ "DL3000", 0, F "WORKDIR /app\n", 0 },
	{ "DL3000", 0, F "WORKDIR C:/app\n", 0 },

	{ "DL3001", 2, F "RUN service nginx start\n", 0 },
	{ "DL3001", 2, F "RUN make && vim /etc/x\n", 0 },
	{ "DL3001", 0, F "RUN echo service\n", 0 },
	{ "DL3001", 0, F "RUN systemctl-helper x\n", 0 },

	{ "DL3002", 2, F "USER root\n", 0 },
	{ "DL3002", 3, F "USER app\nUSER 0:0\n", 0 },
	{ "DL3002", 0, F "USER root\nUSER app\n", 0 },
	{ "DL3002", 0, "FROM alpine:3.19 AS b\nUSER root\nFROM alpine:3.19\nUSER app\n", 0 },

	{ "DL3003", 2, F "RUN cd /tmp && make\n", 0 },
	{ "DL3003", 2, F "RUN make && cd /x\n", 0 },
	{ "DL3003", 0, F "RUN make -C /tmp\n", 0 },
	{ "DL3003", 0, F "WORKDIR /tmp\nRUN make\n", 0 },

	{ "DL3004", 2, F "RUN sudo make install\n", 0 },
	{ "DL3004", 3, F "RUN make \\\n && sudo make install\n", 0 },
	{ "DL3004", 0, F "RUN echo sudo\n", 0 },
	{ "DL3004", 0, F "USER root\nRUN make install\n", 0 },

	{ "DL3005", 2, F "RUN apt-get dist-upgrade -y\n", 0 },
	{ "DL3005", 2, F "RUN apt-get -y dist-upgrade\n", 0 },
	{ "DL3005", 0, F "RUN apt-get upgrade -y\n", 0 },
	{ "DL3005", 0, F "RUN apt-get update\n", 0 },

	{ "DL3006", 1, "FROM alpine\n", 0 },
	{ "DL3006", 1, "FROM docker.io/library/ubuntu AS b\n", 0 },
	{ "DL3006", 0, "FROM alpine@" DIGEST "\n", 0 },
	{ "DL3006", 0, "FROM alpine:3.19 AS base\nFROM base\n", 0 },
	{ "DL3006", 0, "FROM scratch\n", 0 },

	{ "DL3007", 1, "FROM alpine:latest\n", 0 },
	{ "DL3007", 1, "FROM ghcr.io/x/y:latest AS z\n", 0 },
	{ "DL3007", 0, "FROM alpine:3.19\n", 0 },
	{ "DL3007", 0, "FROM alpine:latest@" DIGEST "\n", 0 },

	{ "DL3008", 2, F "RUN apt-get install -y --no-install-recommends curl\n", 0 },
	{ "DL3008", 3, F "RUN apt-get install -y --no-install-recommends \\\n  curl=7.88 git\n", 0 },
	{ "DL3008", 0, F "RUN apt-get install -y curl=7.88\n", 0 },
	{ "DL3008", 0, F "RUN apt-get install -y ./local.deb \"$PKGS\"\n", 0 },

	{ "DL3009", 2, "FROM debian:12\nRUN apt-get update && apt-get install -y curl=1\n", 0 },
	{ "DL3009", 3, "FROM debian:12 AS base\nFROM base\nRUN apt-get install -y curl=1\n", 0 },
	{ "DL3009", 0, "FROM debian:12\nRUN apt-get install -y x=1 && rm -rf /var/lib/apt/lists/*\n", 0 },
	{ "DL3009", 0, "FROM debian:12 AS build\nRUN apt-get install -y x=1\nFROM alpine:3.19\n", 0 },
	{ "DL3009", 0, "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt apt-get install -y x=1\n", 0 },

	{ "DL3010", 2, F "COPY app.tar.gz /tmp/\nRUN tar -xzf /tmp/app.tar.gz\n", 0 },
	{ "DL3010", 2, F "COPY x.tar /x.tar\nRUN tar xf /x.tar -C /\n", 0 },
	{ "DL3010", 0, F "ADD app.tar.gz /opt/\n", 0 },
	{ "DL3010", 0, F "COPY app.tar.gz /tmp/\nRUN ls /tmp\n", 0 },

	{ "DL3011", 2, F "EXPOSE 70000\n", 0 },
	{ "DL3011", 2, F "EXPOSE 80 65536/tcp\n", 0 },
	{ "DL3011", 0, F "EXPOSE 8080\n", 0 },
	{ "DL3011", 0, F "EXPOSE $PORT\n", 0 },

	{ "DL3012", 3, F "HEALTHCHECK CMD a\nHEALTHCHECK CMD b\n", 0 },
	{ "DL3012", 3, F "HEALTHCHECK NONE\nHEALTHCHECK CMD x\n", 0 },
	{ "DL3012", 0, F "HEALTHCHECK CMD a\n", 0 },
	{ "DL3012", 0, F "HEALTHCHECK CMD a\nFROM alpine:3.19\nHEALTHCHECK CMD b\n", 0 },

	{ "DL3013", 2, F "RUN pip install --no-cache-dir flask\n", 0 },
	{ "DL3013", 2, F "RUN pip3 install --no-cache-dir requests django==4.2\n", 0 },
	{ "DL3013", 0, F "RUN pip install --no-cache-dir flask==2.0\n", 0 },
	{ "DL3013", 0, F "RUN pip install --no-cache-dir -r requirements.txt\n", 0 },

	{ "DL3014", 2, F "RUN apt-get install curl=1\n", 0 },
	{ "DL3014", 2, F "RUN apt-get install --no-install-recommends curl=1\n", 0 },
	{ "DL3014", 0, F "RUN apt-get install -qq curl=1\n", 0 },
	{ "DL3014", 0, F "RUN apt-get install --assume-yes curl=1\n", 0 },

	{ "DL3015", 2, F "RUN apt-get install -y curl=1\n", 0 },
	{ "DL3015", 2, F "RUN apt-get update && apt-get -y install curl=1\n", 0 },
	{ "DL3015", 0, F "RUN apt-get install -y --no-install-recommends curl=1\n", 0 },
	{ "DL3015", 0, F "RUN apt-get install -y -o APT::Install-Recommends=false curl=1\n", 0 },

	{ "DL3016", 2, F "RUN npm install express\n", 0 },
	{ "DL3016", 2, F "RUN npm i -g typescript\n", 0 },
	{ "DL3016", 0, F "RUN npm install express@4.18.2 @types/node@20.1.0\n", 0 },
	{ "DL3016", 0, F "RUN npm ci\n", 0 },

	{ "DL3018", 2, F "RUN apk add --no-cache curl\n", 0 },
	{ "DL3018", 2, F "RUN apk add --no-cache curl=8.5.0-r0 git\n", 0 },
	{ "DL3018", 0, F "RUN apk add --no-cache curl=8.5.0-r0\n", 0 },
	{ "DL3018", 0, F "RUN apk add --no-cache --virtual .deps gcc=13.2-r0\n", 0 },

	{ "DL3019", 2, F "RUN apk add curl=1\n", 0 },
	{ "DL3019", 2, F "RUN apk update && apk add git=2\n", 0 },
	{ "DL3019", 0, F "RUN apk add --no-cache curl=1\n", 0 },
	{ "DL3019", 0, F "RUN --mount=type=cache,target=/var/cache/apk apk add curl=1\n", 0 },

	{ "DL3020", 2, F "ADD app.py /app/\n", 0 },
	{ "DL3020", 2, F "ADD config/ /etc/x/\n", 0 },
	{ "DL3020", 0, F "ADD app.tar.gz /opt/\n", 0 },
	{ "DL3020", 0, F "COPY app.py /app/\n", 0 },

	{ "DL3021", 2, F "COPY a b /dst\n", 0 },
	{ "DL3021", 2, F "COPY a b c dst\n", 0 },
	{ "DL3021", 0, F "COPY a b /dst/\n", 0 },
	{ "DL3021", 0, F "COPY a /dst\n", 0 },

	{ "DL3022", 2, F "COPY --from=builder /x /y\n", 0 },
	{ "DL3022", 2, F "COPY --from=5 /x /y\n", 0 },
	{ "DL3022", 0, "FROM alpine:3.19 AS builder\nFROM alpine:3.19\nCOPY --from=builder /x /y\n", 0 },
	{ "DL3022", 0, F "COPY --from=nginx:1.25 /etc/nginx /etc/nginx\n", 0 },

	{ "DL3023", 2, "FROM alpine:3.19 AS build\nCOPY --from=build /a /b\n", 0 },
	{ "DL3023", 2, F "COPY --from=0 /a /b\n", 0 },
	{ "DL3023", 0, "FROM alpine:3.19 AS build\nFROM alpine:3.19\nCOPY --from=build /a /b\n", 0 },
	{ "DL3023", 0, F "FROM alpine:3.19\nCOPY --from=0 /a /b\n", 0 },

	{ "DL3024", 2, "FROM alpine:3.19 AS x\nFROM debian:12 AS x\n", 0 },
	{ "DL3024", 3, "FROM alpine:3.19 AS x\nFROM debian:12 AS y\nFROM debian:12 AS X\n", 0 },
	{ "DL3024", 0, "FROM alpine:3.19 AS x\nFROM debian:12 AS y\n", 0 },
	{ "DL3024", 0, "FROM alpine:3.19 AS x\n", 0 },

	{ "DL3025", 2, F "CMD node app.js\n", 0 },
	{ "DL3025", 2, F "ENTRYPOINT /entry.sh\n", 0 },
	{ "DL3025", 0, F "CMD [\"node\", \"app.js\"]\n", 0 },
	{ "DL3025", 0, F "ENTRYPOINT [\"/entry.sh\"]\n", 0 },

	{ "DL3026", 1, "FROM ghcr.io/a/b:1\n", CASE_TRUSTED },
	{ "DL3026", 1, "FROM quay.io/x:1\n", CASE_TRUSTED },
	{ "DL3026", 0, "FROM alpine:3.19\n", CASE_TRUSTED },
	{ "DL3026", 0, "FROM docker.io/library/alpine:3.19\n", CASE_TRUSTED },
	{ "DL3026", 0, "FROM ghcr.io/a/b:1\n", 0 },

	{ "DL3027", 2, F "RUN apt install -y curl\n", 0 },
	{ "DL3027", 2, F "RUN apt update\n", 0 },
	{ "DL3027", 0, F "RUN apt-get update\n", 0 },
	{ "DL3027", 0, F "RUN apt-cache policy curl\n", 0 },

	{ "DL3028", 2, F "RUN gem install bundler\n", 0 },
	{ "DL3028", 2, F "RUN gem install rake:13.0 rails\n", 0 },
	{ "DL3028", 0, F "RUN gem install bundler:2.4.0\n", 0 },
	{ "DL3028", 0, F "RUN gem install bundler -v 2.4.0\n", 0 },

	{ "DL3029", 1, "FROM --platform=linux/amd64 alpine:3.19\n", 0 },
	{ "DL3029", 1, "FROM --platform=linux/arm64 alpine:3.19 AS b\n", 0 },
	{ "DL3029", 0, "FROM --platform=$BUILDPLATFORM alpine:3.19\n", 0 },
	{ "DL3029", 0, "FROM alpine:3.19\n", 0 },

	{ "DL3030", 2, F "RUN yum install httpd-2.4 && yum clean all\n", 0 },
	{ "DL3030", 2, F "RUN yum install -q httpd-2.4 && yum clean all\n", 0 },
	{ "DL3030", 0, F "RUN yum install -y httpd-2.4 && yum clean all\n", 0 },
	{ "DL3030", 0, F "RUN yum install --assumeyes httpd-2.4 && yum clean all\n", 0 },

	{ "DL3032", 2, F "RUN yum install -y httpd-2.4\n", 0 },
	{ "DL3032", 2, F "RUN yum makecache\n", 0 },
	{ "DL3032", 0, F "RUN yum install -y httpd-2.4 && yum clean all\n", 0 },
	{ "DL3032", 0, F "RUN yum install -y httpd-2.4 && rm -rf /var/cache/yum\n", 0 },

	{ "DL3033", 2, F "RUN yum install -y httpd && yum clean all\n", 0 },
	{ "DL3033", 2, F "RUN yum install -y httpd-2.4 mod_ssl && yum clean all\n", 0 },
	{ "DL3033", 0, F "RUN yum install -y httpd-2.4.57 && yum clean all\n", 0 },
	{ "DL3033", 0, F "RUN yum install -y /tmp/x.rpm && yum clean all\n", 0 },

	{ "DL3034", 2, F "RUN zypper install httpd=2.4 && zypper clean\n", 0 },
	{ "DL3034", 2, F "RUN zypper in httpd=2.4 && zypper clean\n", 0 },
	{ "DL3034", 0, F "RUN zypper -n install httpd=2.4 && zypper clean\n", 0 },
	{ "DL3034", 0, F "RUN zypper install -y httpd=2.4 && zypper clean\n", 0 },

	{ "DL3035", 2, F "RUN zypper dist-upgrade\n", 0 },
	{ "DL3035", 2, F "RUN zypper -n dup && zypper clean\n", 0 },
	{ "DL3035", 0, F "RUN zypper -n refresh && zypper clean\n", 0 },
	{ "DL3035", 0, F "RUN zypper -n install x=1 && zypper clean\n", 0 },

	{ "DL3036", 2, F "RUN zypper -n install httpd=2.4\n", 0 },
	{ "DL3036", 2, F "RUN zypper refresh\n", 0 },
	{ "DL3036", 0, F "RUN zypper -n install httpd=2.4 && zypper clean\n", 0 },
	{ "DL3036", 0, F "RUN zypper -n install httpd=2.4 && zypper cc\n", 0 },

	{ "DL3037", 2, F "RUN zypper -n install httpd && zypper clean\n", 0 },
	{ "DL3037", 2, F "RUN zypper install -y httpd=2.4 vim && zypper clean\n", 0 },
	{ "DL3037", 0, F "RUN zypper -n install httpd=2.4 && zypper clean\n", 0 },
	{ "DL3037", 0, F "RUN zypper -n install 'httpd>=2.4' && zypper clean\n", 0 },

	{ "DL3038", 2, F "RUN dnf install httpd-2.4 && dnf clean all\n", 0 },
	{ "DL3038", 2, F "RUN dnf install --refresh httpd-2.4 && dnf clean all\n", 0 },
	{ "DL3038", 0, F "RUN dnf install -y httpd-2.4 && dnf clean all\n", 0 },
	{ "DL3038", 0, F "RUN microdnf install httpd-2.4 && microdnf clean all\n", 0 },

	{ "DL3040", 2, F "RUN dnf install -y httpd-2.4\n", 0 },
	{ "DL3040", 2, F "RUN microdnf install httpd-2.4\n", 0 },
	{ "DL3040", 0, F "RUN dnf install -y httpd-2.4 && dnf clean all\n", 0 },
	{ "DL3040", 0, F "RUN microdnf install httpd-2.4 && microdnf clean all\n", 0 },

	{ "DL3041", 2, F "RUN dnf install -y httpd && dnf clean all\n", 0 },
	{ "DL3041", 2, F "RUN microdnf install nginx && microdnf clean all\n", 0 },
	{ "DL3041", 0, F "RUN dnf install -y httpd-2.4.57 && dnf clean all\n", 0 },
	{ "DL3041", 0, F "RUN dnf install -y $PKGS && dnf clean all\n", 0 },

	{ "DL3042", 2, F "RUN pip install flask==2\n", 0 },
	{ "DL3042", 2, F "RUN python3 -m pip install flask==2\n", 0 },
	{ "DL3042", 0, F "RUN pip install --no-cache-dir flask==2\n", 0 },
	{ "DL3042", 0, F "ENV PIP_NO_CACHE_DIR=1\nRUN pip install flask==2\n", 0 },

	{ "DL3043", 2, F "ONBUILD FROM alpine:3\n", 0 },
	{ "DL3043", 2, F "ONBUILD MAINTAINER me\n", 0 },
	{ "DL3043", 0, F "ONBUILD RUN make\n", 0 },
	{ "DL3043", 0, F "ONBUILD COPY . /app\n", 0 },

	{ "DL3044", 2, F "ENV A=1 B=$A\n", 0 },
	{ "DL3044", 2, F "ENV HOME=/h PATH=${HOME}/bin\n", 0 },
	{ "DL3044", 0, F "ENV A=1\nENV B=$A\n", 0 },
	{ "DL3044", 0, F "ENV PATH=/x:$PATH\n", 0 },

	{ "DL3045", 2, F "COPY app.py app.py\n", 0 },
	{ "DL3045", 2, F "COPY a ./\n", 0 },
	{ "DL3045", 0, F "WORKDIR /app\nCOPY a .\n", 0 },
	{ "DL3045", 0, "FROM alpine:3.19 AS base\nWORKDIR /app\nFROM base\nCOPY a .\n", 0 },

	{ "DL3046", 2, F "RUN useradd -u 123456 app\n", 0 },
	{ "DL3046", 2, F "RUN useradd --uid=1000000 app\n", 0 },
	{ "DL3046", 0, F "RUN useradd -l -u 123456 app\n", 0 },
	{ "DL3046", 0, F "RUN useradd -u 1000 app\n", 0 },

	{ "DL3047", 2, F "RUN wget https://example.org/a\n", 0 },
	{ "DL3047", 2, F "RUN wget -O /tmp/a https://example.org/a\n", 0 },
	{ "DL3047", 0, F "RUN wget -q https://example.org/a\n", 0 },
	{ "DL3047", 0, F "RUN wget --progress=dot:giga https://example.org/a\n", 0 },

	{ "DL3048", 2, F "LABEL Foo=bar\n", 0 },
	{ "DL3048", 2, F "LABEL com.docker.x=1\n", 0 },
	{ "DL3048", 0, F "LABEL org.opencontainers.image.title=x\n", 0 },
	{ "DL3048", 0, F "LABEL maintainer=me\n", 0 },

	{ "DL3049", 1, F "LABEL version=1.2.3\n", CASE_LABELS },
	{ "DL3049", 3, "FROM alpine:3.19 AS b\n" LABELS_OK "FROM alpine:3.19\n", CASE_LABELS },
	{ "DL3049", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3049", 0, "FROM alpine:3.19 AS b\n" LABELS_OK "FROM b\n", CASE_LABELS },

	{ "DL3050", 3, F LABELS_OK "LABEL extra=1\n", CASE_LABELS },
	{ "DL3050", 2, F "LABEL maintainer=me\n" LABELS_OK, CASE_LABELS },
	{ "DL3050", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3050", 0, F "LABEL extra=1\n", 0 },

	{ "DL3051", 3, F LABELS_OK "LABEL title=\"\"\n", CASE_LABELS },
	{ "DL3051", 3, F LABELS_OK "LABEL url=\n", CASE_LABELS },
	{ "DL3051", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3051", 0, F LABELS_OK "LABEL other=\"\"\n", CASE_LABELS },

	{ "DL3052", 3, F LABELS_OK "LABEL url=example.org\n", CASE_LABELS },
	{ "DL3052", 3, F LABELS_OK "LABEL url=ftp:/x\n", CASE_LABELS },
	{ "DL3052", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3052", 0, F LABELS_OK "LABEL url=http://localhost:8080/x\n", CASE_LABELS },

	{ "DL3053", 3, F LABELS_OK "LABEL created=2024-05-01\n", CASE_LABELS },
	{ "DL3053", 3, F LABELS_OK "LABEL created=2024-13-01T00:00:00Z\n", CASE_LABELS },
	{ "DL3053", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3053", 0, F LABELS_OK "LABEL created=2024-05-01T12:00:00.5+02:00\n", CASE_LABELS },

	{ "DL3054", 3, F LABELS_OK "LABEL license=\"MIT OR\"\n", CASE_LABELS },
	{ "DL3054", 3, F LABELS_OK "LABEL license=\"(MIT\"\n", CASE_LABELS },
	{ "DL3054", 0, F LABELS_OK "LABEL license=\"(MIT OR Apache-2.0) AND BSD-3-Clause\"\n",
	  CASE_LABELS },
	{ "DL3054", 0, F LABELS_OK "LABEL license=\"GPL-2.0-or-later WITH Classpath-exception-2.0\"\n",
	  CASE_LABELS },

	{ "DL3055", 3, F LABELS_OK "LABEL revision=abc123\n", CASE_LABELS },
	{ "DL3055", 3, F LABELS_OK "LABEL revision=zzzz456789abcdef0123456789abcdef01234567\n",
	  CASE_LABELS },
	{ "DL3055", 0, F LABELS_OK, CASE_LABELS },
	{ "DL3055", 0, F LABELS_OK "LABEL revision=" "0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef\n", CASE_LABELS },

	{ "DL3056", 3, F LABELS_OK "LABEL version=1.2\n", CASE_LABELS },
	{ "DL3056", 3, F LABELS_OK "LABEL version=01.2.3\n", CASE_LABELS },
	{ "DL3056", 0, F LABELS_OK "LABEL version=2.0.0-rc.1+build.5\n", CASE_LABELS },
	{ "DL3056", 0, F LABELS_OK "LABEL version=1.0.0\n", CASE_LABELS },

	{ "DL3058", 3, F LABELS_OK "LABEL contact=team\n", CASE_LABELS },
	{ "DL3058", 3, F LABELS_OK "LABEL contact=a@b\n", CASE_LABELS },
	{ "DL3058", 0, F LABELS_OK "LABEL contact=first.last@example.co.uk\n", CASE_LABELS },
	{ "DL3058", 0, F LABELS_OK, CASE_LABELS },

	{ "DL3057", 1, F "CMD [\"x\"]\n", 0 },
	{ "DL3057", 3, "FROM alpine:3.19 AS b\nHEALTHCHECK CMD x\nFROM alpine:3.19\n", 0 },
	{ "DL3057", 0, F "HEALTHCHECK CMD x\n", 0 },
	{ "DL3057", 0, "FROM alpine:3.19 AS b\nHEALTHCHECK CMD x\nFROM b\n", 0 },

	{ "DL3059", 3, F "RUN a\nRUN b\n", 0 },
	{ "DL3059", 3, F "RUN a\nRUN b\nUSER x\nRUN c\n", 0 },
	{ "DL3059", 0, F "RUN a\nUSER x\nRUN b\n", 0 },
	{ "DL3059", 0, F "RUN a\nRUN --mount=type=cache,target=/x b\n", 0 },

	{ "DL3060", 2, F "RUN yarn install\n", 0 },
	{ "DL3060", 2, F "RUN yarn\n", 0 },
	{ "DL3060", 0, F "RUN yarn install && yarn cache clean\n", 0 },
	{ "DL3060", 0, F "RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install\n", 0 },

	{ "DL3061", 1, "RUN echo hi\nFROM alpine:3.19\n", 0 },
	{ "DL3061", 1, "LABEL a=b\nFROM alpine:3.19\n", 0 },
	{ "DL3061", 0, "ARG TAG=3.19\nFROM alpine:$TAG\n", 0 },
	{ "DL3061", 0, "# comment\nFROM alpine:3.19\n", 0 },

	{ "DL3062", 2, F "RUN go install github.com/x/y\n", 0 },
	{ "DL3062", 2, F "RUN go get github.com/x/y\n", 0 },
	{ "DL3062", 0, F "RUN go install github.com/x/y@v1.2.3\n", 0 },
	{ "DL3062", 0, F "RUN go install ./...\n", 0 },

	{ "DL4000", 2, F "MAINTAINER me\n", 0 },
	{ "DL4000", 3, F "LABEL a=b\nMAINTAINER me <me@example.org>\n", 0 },
	{ "DL4000", 0, F "LABEL org.opencontainers.image.authors=me\n", 0 },
	{ "DL4000", 0, F "RUN echo MAINTAINER\n", 0 },

	{ "DL4001", 2, F "RUN curl -o a https://x && wget -q https://y\n", 0 },
	{ "DL4001", 3, F "RUN curl -o a https://x\nRUN wget -q https://y\n", 0 },
	{ "DL4001", 0, F "RUN curl -o a https://x\n", 0 },
	{ "DL4001", 0, F "RUN curl -o a https://x\nFROM alpine:3.19\nRUN wget -q https://y\n", 0 },

	{ "DL4003", 3, F "CMD [\"a\"]\nCMD [\"b\"]\n", 0 },
	{ "DL4003", 4, F "CMD [\"a\"]\nUSER x\nCMD [\"b\"]\n", 0 },
	{ "DL4003", 0, F "CMD [\"a\"]\n", 0 },
	{ "DL4003", 0, F "CMD [\"a\"]\nFROM alpine:3.19\nCMD [\"b\"]\n", 0 },

	{ "DL4004", 3, F "ENTRYPOINT [\"a\"]\nENTRYPOINT [\"b\"]\n", 0 },
	{ "DL4004", 4, F "ENTRYPOINT [\"a\"]\nUSER x\nENTRYPOINT [\"b\"]\n", 0 },
	{ "DL4004", 0, F "ENTRYPOINT [\"a\"]\n", 0 },
	{ "DL4004", 0, F "ENTRYPOINT [\"a\"]\nFROM alpine:3.19\nENTRYPOINT [\"b\"]\n", 0 },

	{ "DL4005", 2, F "RUN ln -sf /bin/bash /bin/sh\n", 0 },
	{ "DL4005", 2, F "RUN ln -s /bin/dash /bin/sh\n", 0 },
	{ "DL4005", 0, F "SHELL [\"/bin/bash\", \"-c\"]\n", 0 },
	{ "DL4005", 0, F "RUN ln -s /bin/sh /usr/local/bin/sh\n", 0 },

	{ "DL4006", 2, F "RUN wget -qO- https://x | tar xz\n", 0 },
	{ "DL4006", 2, F "RUN cat a | grep b\n", 0 },
	{ "DL4006", 0, F "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nRUN cat a | grep b\n", 0 },
	{ "DL4006", 0, F "RUN set -o pipefail && cat a | grep b\n", 0 },

	{ "CF-DF-001", 1, "FROM alpine:3.19\n", 0 },
	{ "CF-DF-001", 1, "FROM alpine\n", 0 },
	{ "CF-DF-001", 0, "FROM alpine:3.19@" DIGEST "\n", 0 },
	{ "CF-DF-001", 0, "FROM scratch\n", 0 },

	{ "CF-DF-002", 1, "FROM ubuntu:22.04\n", CASE_ALLOWED },
	{ "CF-DF-002", 1, "FROM alpine2:1\n", CASE_ALLOWED },
	{ "CF-DF-002", 0, "FROM alpine:3.19\n", CASE_ALLOWED },
	{ "CF-DF-002", 0, "FROM alpine:3.19 AS a\nFROM a\n", CASE_ALLOWED },

	{ "CF-DF-003", 1, F "RUN make\n", 0 },
	{ "CF-DF-003", 3, "FROM alpine:3.19 AS b\nUSER app\nFROM alpine:3.19\n", 0 },
	{ "CF-DF-003", 0, F "USER app\n", 0 },
	{ "CF-DF-003", 0, "FROM gcr.io/distroless/static:nonroot\n", 0 },

	{ "CF-DF-004", 2, F "ENV DB_PASSWORD=hunter2\n", 0 },
	{ "CF-DF-004", 2, F "ARG API_TOKEN=abc123\n", 0 },
	{ "CF-DF-004", 0, F "ENV PASSWORD_FILE=/run/secrets/db\n", 0 },
	{ "CF-DF-004", 0, F "ENV MYSQL_ALLOW_EMPTY_PASSWORD=yes GPG_KEY=0123ABCD\n", 0 },

	{ "CF-DF-005", 2, F "ENV AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n", 0 },
	{ "CF-DF-005", 3, F "RUN echo \\\n " GITHUB_TOKEN " > /t\n", 0 },
	{ "CF-DF-005", 3, F "COPY <<EOF /key\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\nEOF\n", 0 },
	{ "CF-DF-005", 2, F "LABEL token=" JWT "\n", 0 },
	{ "CF-DF-005", 0, F "ENV X=AKIA123\n", 0 },
	{ "CF-DF-005", 0, F "RUN echo eyJhbGciOi ghp_short\n", 0 },

	{ "CF-DF-006", 2, F "COPY id_rsa /root/.ssh/id_rsa\n", 0 },
	{ "CF-DF-006", 2, F "COPY .env config/.npmrc /app/\n", 0 },
	{ "CF-DF-006", 2, F "COPY .aws /root/.aws\n", 0 },
	{ "CF-DF-006", 2, F "COPY home/.ssh/ /root/.ssh/\n", 0 },
	{ "CF-DF-006", 0, F "COPY id_rsa.pub /root/.ssh/\n", 0 },
	{ "CF-DF-006", 0, F "COPY .env.example /app/\n", 0 },

	{ "CF-DF-007", 2, F "COPY . /app\n", CASE_CONTEXT },
	{ "CF-DF-007", 2, F "ADD ./ /app\n", CASE_CONTEXT },
	{ "CF-DF-007", 0, F "COPY . /app\n", CASE_CONTEXT_IGNORE },
	{ "CF-DF-007", 0, F "COPY src /app\n", CASE_CONTEXT },

	{ "CF-DF-008", 2, F "ADD https://example.org/a.tgz /a.tgz\n", 0 },
	{ "CF-DF-008", 2, F "ADD http://example.org/y /y\n", 0 },
	{ "CF-DF-008", 0, F "ADD --checksum=sha256:abc https://example.org/a.tgz /a.tgz\n", 0 },
	{ "CF-DF-008", 0, F "ADD https://github.com/x/y.git#v1.0 /src\n", 0 },

	{ "CF-DF-009", 2, F "RUN curl -fsSL https://example.org/i.sh | sh\n", 0 },
	{ "CF-DF-009", 2, F "RUN wget -qO- https://example.org/i | bash -s\n", 0 },
	{ "CF-DF-009", 2, F "RUN sh -c \"$(curl -fsSL https://example.org/i)\"\n", 0 },
	{ "CF-DF-009", 0, F "RUN curl -o i.sh https://x && sha256sum -c s && sh i.sh\n", 0 },
	{ "CF-DF-009", 0, F "RUN curl https://example.org/a.tgz | tar xz\n", 0 },

	{ "CF-DF-010", 2, F "RUN curl -fsSLk https://example.org\n", 0 },
	{ "CF-DF-010", 2, F "RUN wget --no-check-certificate https://example.org\n", 0 },
	{ "CF-DF-010", 2, F "ENV NODE_TLS_REJECT_UNAUTHORIZED=0\n", 0 },
	{ "CF-DF-010", 0, F "RUN curl -fsSL https://example.org\n", 0 },
	{ "CF-DF-010", 0, F "RUN git config --global http.sslVerify true\n", 0 },

	{ "CF-DF-011", 2, F "RUN apt-get install -y --allow-unauthenticated x=1\n", 0 },
	{ "CF-DF-011", 2, F "RUN apk add --no-cache --allow-untrusted x=1\n", 0 },
	{ "CF-DF-011", 2, F "RUN yum install -y --nogpgcheck x-1 && yum clean all\n", 0 },
	{ "CF-DF-011", 0, F "RUN apt-get install -y x=1\n", 0 },
	{ "CF-DF-011", 0, F "RUN apk add --no-cache x=1\n", 0 },

	{ "CF-DF-012", 2, F "RUN pip install --no-cache-dir --trusted-host pypi.local x==1\n", 0 },
	{ "CF-DF-012", 2, F "RUN pip install --no-cache-dir --trusted-host=pypi.local x==1\n", 0 },
	{ "CF-DF-012", 0, F "RUN pip install --no-cache-dir --index-url https://pypi.local/simple x==1\n", 0 },
	{ "CF-DF-012", 0, F "RUN pip install --no-cache-dir x==1\n", 0 },

	{ "CF-DF-013", 2, F "RUN chmod 777 /app\n", 0 },
	{ "CF-DF-013", 2, F "RUN chmod -R o+w /data\n", 0 },
	{ "CF-DF-013", 2, F "COPY --chmod=666 a /a\n", 0 },
	{ "CF-DF-013", 0, F "RUN chmod 1777 /tmp\n", 0 },
	{ "CF-DF-013", 0, F "RUN chmod go-w /app && chmod 755 /app\n", 0 },

	{ "CF-DF-014", 2, F "RUN chmod u+s /usr/bin/x\n", 0 },
	{ "CF-DF-014", 2, F "RUN chmod 4755 /usr/bin/x\n", 0 },
	{ "CF-DF-014", 2, F "COPY --chmod=2755 a /a\n", 0 },
	{ "CF-DF-014", 0, F "RUN chmod 0755 /usr/bin/x\n", 0 },
	{ "CF-DF-014", 0, F "RUN chmod 3777 /var/run/app\n", 0 },

	{ "CF-DF-015", 2, F "RUN --security=insecure make\n", 0 },
	{ "CF-DF-015", 2, F "RUN --network=none --security=insecure make\n", 0 },
	{ "CF-DF-015", 0, F "RUN --security=sandbox make\n", 0 },
	{ "CF-DF-015", 0, F "RUN --network=none make\n", 0 },

	{ "CF-DF-016", 2, F "EXPOSE 22\n", 0 },
	{ "CF-DF-016", 2, F "EXPOSE 80 20-30/tcp\n", 0 },
	{ "CF-DF-016", 0, F "EXPOSE 2222\n", 0 },
	{ "CF-DF-016", 0, F "EXPOSE 8022\n", 0 },

	{ "CF-DF-017", 2, F "RUN apt-get install -y openssh-server=1\n", 0 },
	{ "CF-DF-017", 2, F "CMD [\"/usr/sbin/sshd\", \"-D\"]\n", 0 },
	{ "CF-DF-017", 0, F "RUN apt-get install -y openssh-client=1\n", 0 },
	{ "CF-DF-017", 0, F "RUN ssh-keygen -t ed25519 -f /k\n", 0 },

	{ "CF-DF-018", 2, F "ARG GITHUB_TOKEN\n", 0 },
	{ "CF-DF-018", 2, F "ARG NPM_TOKEN\nRUN npm ci\n", 0 },
	{ "CF-DF-018", 0, F "ARG VERSION\n", 0 },
	{ "CF-DF-018", 0, F "ARG TOKEN_FILE\n", 0 },
	{ "CF-DF-019", 2, F "RUN wget -O /tmp/tool http://example.com/tool\n", 0 },
	{ "CF-DF-019", 3, F "RUN set -e; \\\n  curl -fsSLo /tmp/t.tgz http://example.com/t.tgz && tar xzf /tmp/t.tgz\n", 0 },
	{ "CF-DF-019", 2, F "ADD http://example.com/tool.tgz /tmp/\n", 0 },
	{ "CF-DF-019", 2, F "RUN [\"curl\", \"-o\", \"/t\", \"HTTP://example.com/t\"]\n", 0 },
	{ "CF-DF-019", 2, F "RUN curl --url=http://user@example.com:8080/t -o /t\n", 0 },
	{ "CF-DF-019", 2, F "RUN busybox wget http://example.com/t && aria2c http://example.com/u\n", 0 },
	{ "CF-DF-019", 2, F "RUN git clone http://example.com/repo.git /src\n", 0 },
	{ "CF-DF-019", 2, F "RUN wget http://example.com/t && sha1sum -c t.sha1\n", 0 },
	{ "CF-DF-019", 2, F "RUN wget http://example.com/t && shasum -c t.sha\n", 0 },
	{ "CF-DF-019", 0, F "RUN curl -fsSLo /tmp/tool https://example.com/tool\n", 0 },
	{ "CF-DF-019", 0, F "RUN wget -q http://localhost:8080/tool && curl http://127.0.0.1/t http://[::1]:80/u\n", 0 },
	{ "CF-DF-019", 0, F "ADD --checksum=sha256:abc http://example.com/t.tgz /tmp/\n", 0 },
	{ "CF-DF-019", 0, F "ADD https://example.com/t.tgz /tmp/\n", 0 },
	{ "CF-DF-019", 0, F "RUN wget -O t.tgz http://example.com/t.tgz \\\n && echo \"$SUM *t.tgz\" | sha256sum -c -\n", 0 },
	{ "CF-DF-019", 0, F "RUN curl -o t http://example.com/t && curl -o t.asc http://example.com/t.asc && gpg --batch --verify t.asc t\n", 0 },
	{ "CF-DF-019", 0, F "RUN wget http://example.com/t && shasum -a 256 -c t.sha256\n", 0 },
	{ "CF-DF-019", 0, F "RUN echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list\n", 0 },
	{ "CF-DF-019", 0, F "RUN curl -fsSL \"$TOOL_URL\" -o /tmp/tool\n", 0 },
	{ "CF-DF-019", 0, F "RUN wget --referer=http://example.com/ https://example.com/t\n", 0 },
};

struct fixture {
	char dir[64];      // build context without .dockerignore
	char ignored[80];  // build context with one
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/scan-dockerfile-test.XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->ignored, sizeof(fx->ignored), "%s/ignored", fx->dir);
	char path[128];
	snprintf(path, sizeof(path), "%s/.dockerignore", fx->ignored);
	if (mkdir(fx->ignored, 0700) != 0)
		return -1;
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return -1;
	fputs(".git\n", f);
	fclose(f);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/.dockerignore", fx->ignored);
	unlink(path);
	rmdir(fx->ignored);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct scan_report *lint(const struct fixture *fx, const char *text, unsigned options,
				const struct scan_config *base)
{
	struct scan_config config;
	if (base != NULL) {
		config = *base;
	} else {
		memset(&config, 0, sizeof(config));
		config.fail_on = SCAN_SEV_WARNING;
	}
	char *trusted[] = { "docker.io" };
	char *allowed[] = { "alpine:*" };
	if (options & CASE_TRUSTED) {
		config.trusted_registries = trusted;
		config.trusted_registry_count = 1;
	}
	if (options & CASE_ALLOWED) {
		config.allowed_images = allowed;
		config.allowed_image_count = 1;
	}
	struct scan_label_schema schema[] = {
		{ "version", SCAN_LABEL_SEMVER }, { "url", SCAN_LABEL_URL },
		{ "created", SCAN_LABEL_RFC3339 }, { "license", SCAN_LABEL_SPDX },
		{ "revision", SCAN_LABEL_HASH }, { "contact", SCAN_LABEL_EMAIL },
		{ "title", SCAN_LABEL_TEXT },
	};
	if (options & CASE_LABELS) {
		config.label_schema = schema;
		config.label_schema_count = sizeof(schema) / sizeof(schema[0]);
		config.strict_labels = true;
	}
	const char *context = NULL;
	if (options & CASE_CONTEXT)
		context = fx->dir;
	if (options & CASE_CONTEXT_IGNORE)
		context = fx->ignored;

	struct scan_report *report = scan_report_new("coffer-dockerfile");
	assert_non_null(report);
	struct cf_error err = { 0 };
	assert_int_equal(scan_dockerfile_lint(report, &config, "Dockerfile", context, text,
					      strlen(text), &err), 0);
	return report;
}

static int finding_line(const struct scan_report *report, const char *rule, int line)
{
	int found = -1;
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		if (strcmp(finding->rule->id, rule) != 0)
			continue;
		if (line == 0 || finding->location.line == line)
			return finding->location.line;
		found = finding->location.line;
	}
	return found;
}

static void dump(const struct scan_report *report)
{
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		fprintf(stderr, "    %s %d:%d %s\n", finding->rule->id, finding->location.line,
			finding->location.column, finding->message);
	}
}

static void rule_table_cases(void **state)
{
	const struct fixture *fx = *state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		struct scan_report *report = lint(fx, c->dockerfile, c->options, NULL);
		int line = finding_line(report, c->rule, c->line);
		bool ok = c->line == 0 ? line < 0 : line == c->line;
		if (!ok) {
			fprintf(stderr, "case %zu: %s expected %s, got line %d for:\n%s", i, c->rule,
				c->line == 0 ? "no finding" : "a finding", line, c->dockerfile);
			dump(report);
			failures++;
		}
		scan_report_free(report);
	}
	assert_int_equal(failures, 0);
}

// Every rule has at least two cases that trigger it and two that do not.
static void rule_table_complete(void **state)
{
	(void)state;
	for (size_t r = 0; r < scan_dockerfile_rule_count(); r++) {
		const struct scan_rule *rule = scan_dockerfile_rule(r);
		int positive = 0, negative = 0;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			if (strcmp(cases[i].rule, rule->id) != 0)
				continue;
			if (cases[i].line > 0)
				positive++;
			else
				negative++;
		}
		if (positive < 2 || negative < 2)
			fprintf(stderr, "rule %s has %d trigger and %d non-trigger cases\n", rule->id,
				positive, negative);
		assert_true(positive >= 2);
		assert_true(negative >= 2);
	}
}

static bool has_finding(const struct scan_report *report, const char *rule, int line)
{
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		if (strcmp(finding->rule->id, rule) == 0 &&
		    (line == 0 || finding->location.line == line))
			return true;
	}
	return false;
}

static void pragmas_ignore_rules(void **state)
{
	const struct fixture *fx = *state;
	struct scan_report *report;

	report = lint(fx, "# coffer ignore=DL3007,CF-DF-001\nFROM alpine:latest\nUSER app\n", 0, NULL);
	assert_false(has_finding(report, "DL3007", 0));
	assert_false(has_finding(report, "CF-DF-001", 0));
	scan_report_free(report);

	// A pragma covers the next instruction only.
	report = lint(fx, "# hadolint ignore=DL3007\nFROM alpine:latest\nFROM alpine:latest\n", 0, NULL);
	assert_false(has_finding(report, "DL3007", 2));
	assert_true(has_finding(report, "DL3007", 3));
	scan_report_free(report);

	// hadolint pragmas apply only to the DL ids the two tools share.
	report = lint(fx, "# hadolint ignore=CF-DF-001\nFROM alpine:3.19\n", 0, NULL);
	assert_true(has_finding(report, "CF-DF-001", 2));
	scan_report_free(report);

	report = lint(fx, "FROM alpine:latest\n# coffer global ignore=DL3007\nFROM alpine:latest\n", 0, NULL);
	assert_false(has_finding(report, "DL3007", 0));
	scan_report_free(report);

	report = lint(fx, "FROM alpine:latest\n# hadolint global ignore=DL3007\n", 0, NULL);
	assert_false(has_finding(report, "DL3007", 0));
	scan_report_free(report);
}

static void config_ignore_and_severity(void **state)
{
	const struct fixture *fx = *state;
	char *ignore[] = { "DL3007" };
	struct scan_severity_override overrides[] = {
		{ "CF-DF-001", SCAN_SEV_INFO },
		{ "DL3057", SCAN_SEV_NONE },
	};
	struct scan_config config;
	memset(&config, 0, sizeof(config));
	config.fail_on = SCAN_SEV_WARNING;
	config.ignore = ignore;
	config.ignore_count = 1;
	config.overrides = overrides;
	config.override_count = 2;

	struct scan_report *report = lint(fx, "FROM alpine:latest\n", 0, &config);
	assert_false(has_finding(report, "DL3007", 0));
	assert_false(has_finding(report, "DL3057", 0));
	bool found = false;
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		if (strcmp(finding->rule->id, "CF-DF-001") == 0) {
			assert_int_equal(finding->severity, SCAN_SEV_INFO);
			found = true;
		}
	}
	assert_true(found);
	scan_report_free(report);
}

static void config_label_schema(void **state)
{
	(void)state;
	static const char yaml[] = "dockerfile:\n"
				   "  label-schema:\n"
				   "    version: semver\n"
				   "    contact: email\n"
				   "  strict-labels: true\n";
	struct scan_config config;
	struct cf_error err = { 0 };
	assert_int_equal(scan_config_load_buffer(&config, yaml, sizeof(yaml) - 1, "test.yaml", &err), 0);
	assert_int_equal(config.label_schema_count, 2);
	assert_string_equal(config.label_schema[0].name, "version");
	assert_int_equal(config.label_schema[0].type, SCAN_LABEL_SEMVER);
	assert_int_equal(config.label_schema[1].type, SCAN_LABEL_EMAIL);
	assert_true(config.strict_labels);
	scan_config_free(&config);

	static const char bad_type[] = "dockerfile:\n  label-schema:\n    version: number\n";
	cf_error_reset(&err);
	assert_int_equal(scan_config_load_buffer(&config, bad_type, sizeof(bad_type) - 1, "test.yaml",
						 &err), -EINVAL);
	assert_non_null(strstr(err.message, "invalid label type 'number'"));
	scan_config_free(&config);

	static const char bad_bool[] = "dockerfile:\n  strict-labels: maybe\n";
	cf_error_reset(&err);
	assert_int_equal(scan_config_load_buffer(&config, bad_bool, sizeof(bad_bool) - 1, "test.yaml",
						 &err), -EINVAL);
	assert_non_null(strstr(err.message, "use true or false"));
	scan_config_free(&config);
}

static void plain_http_message_names_url(void **state)
{
	const struct fixture *fx = *state;
	const char *dockerfile = "FROM alpine:3.19\n"
				 "RUN wget -q -O /tmp/tool http://example.com/tool\n"
				 "ADD http://example.com/data.tgz /data/\n";
	struct scan_report *report = lint(fx, dockerfile, 0, NULL);
	int seen = 0;
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		if (strcmp(finding->rule->id, "CF-DF-019") != 0)
			continue;
		seen++;
		if (finding->location.line == 2) {
			assert_non_null(strstr(finding->message, "http://example.com/tool"));
			assert_int_equal(finding->location.column, 26);
		} else {
			assert_int_equal(finding->location.line, 3);
			assert_non_null(strstr(finding->message, "http://example.com/data.tgz"));
		}
		assert_int_equal(finding->severity, SCAN_SEV_WARNING);
		assert_non_null(strstr(finding->fix, "https"));
	}
	assert_int_equal(seen, 2);
	scan_report_free(report);
}

static void digest_severity_levels(void **state)
{
	const struct fixture *fx = *state;
	struct scan_report *report = lint(fx, "FROM alpine:3.19\nFROM alpine\n", 0, NULL);
	int checked = 0;
	for (size_t i = 0; i < scan_report_count(report); i++) {
		const struct scan_finding *finding = scan_report_get(report, i);
		if (strcmp(finding->rule->id, "CF-DF-001") != 0)
			continue;
		if (finding->location.line == 1)
			assert_int_equal(finding->severity, SCAN_SEV_WARNING);
		else
			assert_int_equal(finding->severity, SCAN_SEV_ERROR);
		checked++;
	}
	assert_int_equal(checked, 2);
	scan_report_free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rule_table_complete),
		cmocka_unit_test(rule_table_cases),
		cmocka_unit_test(pragmas_ignore_rules),
		cmocka_unit_test(config_ignore_and_severity),
		cmocka_unit_test(config_label_schema),
		cmocka_unit_test(digest_severity_levels),
		cmocka_unit_test(plain_http_message_names_url),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
