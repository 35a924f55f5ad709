# -*- test-case-name: txmp.test -*-
