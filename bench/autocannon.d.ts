// The part of autocannon's API the runner uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Request {
      method?: string
      path?: string
      headers?: Record<string, string>
      body?: string
    }
    interface Options {
      url: string
      method?: string
      body?: string
      headers?: Record<string, string>
      connections?: number
      duration?: number
      amount?: number
      overallRate?: number
      requests?: Array<{ setupRequest?: (req: Request) => Request }>
    }
    interface Histogram {
      average: number
      p50: number
      p99: number
    }
    interface Result {
      requests: Histogram
      latency: Histogram
      errors: number
      timeouts: number
      non2xx: number
    }
  }
  function autocannon (opts: autocannon.Options): Promise<autocannon.Result>
  export default autocannon
}
